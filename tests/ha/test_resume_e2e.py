"""Resume in the same wake and the problem entity, with the whole speaker (``assemble``): real wake word
and VAD on live-paced audio, the Realtime EMULATOR with its faults, a real Mosquitto broker. Each fault is
followed by a second interaction that must work."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from realtime_emulator import Emulator, Fault, Reply, Script, Turn
from speaker.app import Speaker
from speaker.audio.format import MIC
from speaker.check import run_check
from speaker.config import load_settings
from speaker.core.conversation import Phase
from tests.fixtures.speech import fixture_info
from tests.ha.support import ROOT, message_on, payload
from tests.helpers.broker import Broker
from tests.helpers.whole_speaker import clip, silence, whole_speaker
from tests.mqtt.fixtures import eventually
from tests.mqtt.recorder import Recorder

pytestmark = pytest.mark.slow
KEY = "sk-emulator-resume-test"
FRAME = MIC.bytes_for_ms(10)
ANSWER = "The kitchen light is on, and the dishwasher has finished its programme."


def pcm(*parts: np.ndarray) -> bytes:
    return np.concatenate(parts).astype("<i2").tobytes()


def request() -> bytes:
    """"hey jarvis" then "turn on the kitchen light"."""
    return pcm(silence(0.5), clip("hey_jarvis"), clip("speech_end", 1.0))


class Microphone:
    """A live microphone (10 ms frames at real-time pace) playing ``steps``: audio, or a condition on the
    speaker to wait for in quiet (bounded) — so the test follows the conversation, not a stopwatch."""

    format = MIC

    def __init__(self, steps: list[bytes | Callable[[Speaker], bool]]) -> None:
        self.steps = steps
        self.speaker: Speaker | None = None

    async def __aenter__(self) -> Microphone:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def frames(self) -> AsyncIterator[bytes]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        due = loop.time()

        async def paced(frame: bytes) -> bytes:
            nonlocal due
            due += 0.01
            await asyncio.sleep(max(0.0, due - loop.time()))
            return frame

        for step in self.steps:
            if isinstance(step, bytes):
                for i in range(0, len(step), FRAME):
                    yield await paced(step[i:i + FRAME].ljust(FRAME, b"\0"))
                continue
            for _ in range(6000):  # at most a minute of quiet
                if self.speaker is not None and step(self.speaker):
                    break
                yield await paced(bytes(FRAME))


def phase_is(phase: Phase) -> Callable[[Speaker], bool]:
    return lambda speaker: speaker.runner.core.phase is phase


@contextlib.asynccontextmanager
async def speaker_with(tmp_path: Path, broker: Broker, emu: Emulator, mic: Microphone, *, key: str = KEY,
                       follow_up_s: float = 2, published: Callable[[], bool] = lambda: True,
                       ) -> AsyncIterator[Speaker]:
    """The whole speaker on ``mic`` until it has played everything and ``published`` holds (what the
    test reads from the broker has arrived before the MQTT connection closes)."""
    async with asyncio.timeout(120), whole_speaker(tmp_path, broker, emu, source=mic, key=key,
                                                   follow_up_s=follow_up_s) as run:
        mic.speaker = run.speaker
        yield run.speaker
        await run.task  # until the microphone has played everything
        await eventually(published)


async def check(tmp_path: Path) -> str:
    """`speaker check --offline` on the test's config (it runs its own event loop: in a thread)."""
    out = io.StringIO()
    args = argparse.Namespace(offline=True, json=False)
    await asyncio.to_thread(run_check, load_settings([tmp_path / "speaker.yaml"]), args, out)
    return out.getvalue()


def sessions_closed(recorder: Recorder, n: int) -> Callable[[], bool]:
    return lambda: len(recorder.on(f"{ROOT}/event/session_closed")) >= n


def replies(recorder: Recorder) -> list[str]:
    return [payload(m)["text"] for m in recorder.on(f"{ROOT}/event/reply")]


def instructions(emu: Emulator, connection: int) -> str:
    return str(emu.events("session.update", connection=connection)[0]["session"]["instructions"])


async def test_a_drop_mid_answer_is_answered_in_full_in_the_same_wake(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    script = Script(turns=[
        Turn(heard="turn on the kitchen light", reply=Reply(ANSWER), fault=Fault.drop(after_deltas=2)),
        Turn(heard="turn on the kitchen light", reply=Reply("It is ten past three.")),
    ])
    mic = Microphone([request(), phase_is(Phase.IDLE), silence(0.5).tobytes(), request(), phase_is(Phase.IDLE)])
    async with Emulator(script, api_key=KEY) as emu:
        async with speaker_with(tmp_path, broker, emu, mic, published=sessions_closed(recorder, 3)) as speaker:
            pass
        assert emu.violations == []
        assert emu.connections == 3  # the lost session, its replacement, the second wake word
        # the same turn went to the fresh session, with a context that says what happened
        first, again = emu.append_seconds[0], emu.append_seconds[1]
        assert abs(first - again) < 0.05, (first, again)
        assert "connection was lost" in instructions(emu, 1) and "connection was lost" not in instructions(emu, 2)
        assert len(emu.events("response.create", connection=1)) == 1
        assert replies(recorder) == [ANSWER, "It is ten past three."]  # complete, then the next one
        assert recorder.on(f"{ROOT}/event/error") == []  # no error sound, nothing to report
        resumed = [payload(m) for m in recorder.on(f"{ROOT}/event/resumed")]
        assert [(r["reason"], r["turn"]) for r in resumed] == [("connection lost (1006)", True)]
        closed = [payload(m) for m in recorder.on(f"{ROOT}/event/session_closed")]
        assert closed[0]["reason"] == "connection lost (1006)"
        assert len(closed) == 3 and [c["turns"] for c in closed] == [1, 1, 1]  # each session counted once
        assert [s.session for s in speaker.log.sessions] == [1, 2, 3]


async def test_a_follow_up_that_meets_the_session_expiry_is_answered_by_a_fresh_session(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    script = Script(turns=[
        Turn(heard="turn on the kitchen light", reply=Reply("The kitchen light is on."),
             fault=Fault.expire_in_follow_up()),
        Turn(heard="turn on the kitchen light", reply=Reply("It is already on.")),
        Turn(heard="turn on the kitchen light", reply=Reply("Still on.")),
    ])
    follow_up = clip("speech_end", 1.0)
    spoken = fixture_info("speech_end").speech
    follow_up_s = sum(end - start for start, end in spoken)
    mic = Microphone([request(), phase_is(Phase.FOLLOW_UP), follow_up.tobytes(), phase_is(Phase.IDLE),
                      silence(0.5).tobytes(), request(), phase_is(Phase.IDLE)])
    async with Emulator(script, api_key=KEY) as emu:
        async with speaker_with(tmp_path, broker, emu, mic, follow_up_s=3, published=sessions_closed(recorder, 3)):
            pass
        assert emu.violations == []
        assert emu.connections == 3
        assert len(emu.events("input_audio_buffer.commit", connection=0)) == 1  # the follow-up never got there
        assert emu.append_seconds[1] >= follow_up_s  # all of the follow-up reached the fresh session
        assert "The kitchen light is on." in instructions(emu, 1)
        assert replies(recorder) == ["The kitchen light is on.", "It is already on.", "Still on."]
        assert len(recorder.on(f"{ROOT}/event/session_expired")) == 1
        assert recorder.on(f"{ROOT}/event/error") == []


async def test_a_refusal_is_a_problem_in_home_assistant_and_in_check_until_a_session_opens(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    mic = Microphone([request(), phase_is(Phase.DISABLED)])
    refused = lambda: any(payload(m)["problem"] for m in recorder.on(f"{ROOT}/problem"))  # noqa: E731
    async with Emulator(Script(), api_key="sk-another-key") as emu, \
            speaker_with(tmp_path, broker, emu, mic, published=refused):
        pass
    problem = payload(await message_on(recorder, f"{ROOT}/problem", lambda p: p["problem"] is True))
    assert "401" in problem["reason"] and problem["code"] in ("http_401", "invalid_api_key")
    assert recorder.on(f"{ROOT}/problem")[-1].retain
    # `speaker check` shows what the daemon left behind
    report = await check(tmp_path)
    assert "last refusal" in report and "401" in report

    # the key is fixed and the daemon restarted: still shown until a session really opens, then cleared
    recorder.clear()
    mic = Microphone([phase_is(Phase.IDLE), request(), phase_is(Phase.IDLE)])
    fixed = Script(turns=[Turn(reply=Reply("The kitchen light is on."))])
    cleared = lambda: any(payload(m) == {"problem": False} for m in recorder.on(f"{ROOT}/problem"))  # noqa: E731
    async with Emulator(fixed, api_key=KEY) as emu, speaker_with(tmp_path, broker, emu, mic, published=cleared):
        pass
    seen: list[Any] = [payload(m) for m in recorder.on(f"{ROOT}/problem")]
    assert seen[0]["problem"] is True and seen[-1] == {"problem": False}
    assert replies(recorder) == ["The kitchen light is on."]
    assert json.loads((tmp_path / "state" / "device.json").read_text())["fatal_reason"] is None
    assert "last refusal" not in await check(tmp_path)
