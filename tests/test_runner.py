"""The runner with fakes at every port: failures in one conversation never end the daemon."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from speaker.audio.format import MIC, REALTIME
from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.conversation import Conversation, CoreConfig, Phase
from speaker.listen.events import SpeechEnded, SpeechStarted, WakeDetected
from speaker.realtime import events as rt
from speaker.runner import Runner

FRAME = b"\x00\x00" * 160


class FakeSource:
    format = MIC

    def __init__(self, seconds: float) -> None:
        self.blocks = round(seconds * 100)

    async def __aenter__(self) -> FakeSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def frames(self) -> AsyncIterator[bytes]:
        for _ in range(self.blocks):
            await asyncio.sleep(0.002)
            yield FRAME


@dataclass
class FakeFrontEnd:
    wake_at: int = 10
    wake_enabled: bool = True
    vad_enabled: bool = True
    n: int = 0

    @property
    def time(self) -> float:
        return self.n / 100

    def process(self, frame: bytes, ear: bytes | None = None) -> list[Any]:
        """The wake word at block ``wake_at``, then half a second of speech."""
        self.n += 1
        if self.n == self.wake_at:
            return [WakeDetected("hey_jarvis", 0.9, self.time)]
        if self.n == self.wake_at + 5:
            return [SpeechStarted(self.time)]
        if self.n == self.wake_at + 55:
            return [SpeechEnded(self.time - 0.1)]
        return []

    def reset_vad(self) -> None:
        pass


@dataclass
class FakeSink:
    format = REALTIME
    written: list[bytes] = field(default_factory=list)
    fail_drain: bool = False
    written_ms: float = 0.0
    played_ms: float = 0.0
    volume: int = 50

    async def __aenter__(self) -> FakeSink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def write(self, pcm: bytes) -> None:
        self.written.append(pcm)

    def clear(self) -> None:
        pass

    async def drain(self) -> None:
        if self.fail_drain:
            raise OSError("the USB speaker went away")

    def set_volume(self, percent: int) -> None:
        self.volume = percent


class Tools:
    async def execute(self, name: str, arguments: str) -> Any:
        raise AssertionError("no tools here")


class Recorder:
    def __init__(self) -> None:
        self.actions: list[Any] = []

    def observe(self, step: Any, now: float) -> None:
        self.actions.append(step)


ERROR_SOUND = b"\x01\x00" * 100


def _runner(connect: Any, sink: FakeSink, rec: Recorder, **options: Any) -> Runner:
    cfg = CoreConfig(sound_s={"error": len(ERROR_SOUND) / 48000}, **options)
    return Runner(Conversation(cfg), FakeFrontEnd(), sink, connect, Tools(), asyncio.Queue(),
                  make_resampler=lambda: _Identity(), sounds={"error": ERROR_SOUND}, observers=[rec])


class _Identity:
    def process(self, pcm: bytes) -> bytes:
        return pcm

    def flush(self) -> bytes:
        return b""


async def test_a_broken_session_config_fails_the_conversation_not_the_daemon() -> None:
    async def connect(request: A.OpenSession) -> Any:
        raise ValueError("two tools are named 'light_set'")

    sink, rec = FakeSink(), Recorder()
    runner = _runner(connect, sink, rec)
    async with asyncio.timeout(10):
        await runner.run(FakeSource(0.5))
    assert runner.core.phase is Phase.DISABLED  # told once, not retried at every wake word
    assert A.PlaySound("error") in rec.actions
    assert sink.written == [b"\x01\x00" * 100]  # the error sound reached the speaker
    errors = [a for a in rec.actions if isinstance(a, O.Problem)]
    assert errors and "light_set" in errors[0].message


async def test_a_failing_speaker_does_not_end_the_daemon() -> None:
    class Conn:
        def __init__(self) -> None:
            self.sent: list[dict[str, Any]] = []
            self.queue: asyncio.Queue[rt.RealtimeEvent | None] = asyncio.Queue()

        def send(self, event: Any) -> str:
            self.sent.append(dict(event))
            if event["type"] == "response.create":
                for ev in (rt.ResponseCreated("r1"), rt.AudioDelta("r1", "i1", 0, b"\x00\x00" * 2400),
                           rt.ResponseDone("r1", "completed")):
                    self.queue.put_nowait(ev)
            return "e"

        def append_audio(self, pcm: bytes) -> None:
            pass

        async def events(self) -> AsyncIterator[rt.RealtimeEvent]:
            while (ev := await self.queue.get()) is not None:
                yield ev

        async def close(self) -> None:
            self.queue.put_nowait(None)

    conn = Conn()

    async def connect(request: A.OpenSession) -> Any:
        return conn

    sink, rec = FakeSink(fail_drain=True), Recorder()
    runner = _runner(connect, sink, rec, follow_up_s=0.2, idle_close_s=0.3)
    async with asyncio.timeout(10):
        await runner.run(FakeSource(2.0))
    assert [e["type"] for e in conn.sent][-2:] == ["input_audio_buffer.commit", "response.create"]
    assert any(isinstance(a, A.AwaitPlayback) for a in rec.actions)  # drain was attempted and failed…
    closes = [a.reason for a in rec.actions if isinstance(a, A.CloseSession)]
    assert closes == ["idle"]  # …and the conversation still went on to its idle close
