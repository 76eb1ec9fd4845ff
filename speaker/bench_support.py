"""What the conversation benches share: the whole daemon against the Realtime EMULATOR, its input cut from
the bundled demo recording, a sink that remembers when it was written to, a window on the front end's
events and a Mosquitto broker. The benches print figures; nothing here decides or asserts anything."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Self

import numpy as np

from speaker.app import Speaker, assemble
from speaker.audio.factory import open_sink
from speaker.audio.ports import AudioSink, AudioSource
from speaker.audio.wavfile import read_wav
from speaker.audio.wrap import SinkWrapper
from speaker.config import load_settings
from speaker.config.schema import Settings, VadSettings
from speaker.listen.events import SpeechStarted
from speaker.runner import FrontEndLike, Observer
from speaker.vad.segmenter import SpeechSegmenter

KEY_ENV = "SPEAKER_BENCH_KEY"
"""The variable the benches' configs read the emulator's key from (never written into a file)."""


# --------------------------------------------------------------------------- input audio


def demo_audio(rate: int = 16000) -> bytes:
    """The bundled demo recording: quiet, "hey jarvis", "turn on the kitchen light"."""
    return read_wav(Path(str(resources.files("speaker") / "assets" / "demo_input.wav")), rate)


def speech_spans(pcm: bytes) -> list[tuple[float, float]]:
    """(start, end) seconds of each stretch of speech in 16 kHz audio."""
    seg = SpeechSegmenter(VadSettings(hangover_ms=200))  # splits "hey jarvis" from the command
    spans: list[tuple[float, float]] = []
    start = 0.0
    for ev in seg.process(pcm):
        if isinstance(ev, SpeechStarted):
            start = ev.t
        else:
            spans.append((start, ev.t))
    return spans


def cut(pcm: bytes, a: float, b: float) -> bytes:
    return pcm[int(a * 16000) * 2:int(b * 16000) * 2]


@dataclass(frozen=True)
class DemoRequest:
    """The demo recording cut in two: the wake word and the command."""

    wake: bytes
    command: bytes
    command_s: float
    """Seconds of speech in the command."""


def demo_request() -> DemoRequest:
    demo = demo_audio()
    spans = speech_spans(demo)
    if len(spans) < 2:
        raise RuntimeError("could not find the wake word and the command in the demo audio")
    (w0, w1), (c0, c1) = spans[0], spans[1]
    return DemoRequest(cut(demo, w0 - 0.05, w1 + 0.1), cut(demo, c0 - 0.05, c1 + 0.05), c1 - c0)


def quiet_room(seed: int) -> Callable[[float], bytes]:
    """Seconds of a quiet room: seeded white noise at -60 dBFS (each call continues the same noise)."""
    rng = np.random.default_rng(seed)

    def silence(seconds: float) -> bytes:
        return (rng.standard_normal(int(seconds * 16000)) * 32768 * 10 ** (-60 / 20)).astype("<i2").tobytes()

    return silence


def print_rows(rows: Sequence[tuple[str, str, str]], value_width: int) -> None:
    """A bench's figures as aligned rows: what, how much, the target or a note."""
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:<{value_width}} {note}")


# --------------------------------------------------------------------------- the speaker's side


class TimingSink(SinkWrapper):
    """Wraps the real sink (entered by the speaker's own stack, not here): remembers when each write
    and clear happened."""

    def __init__(self, inner: AudioSink) -> None:
        super().__init__(inner)
        self.writes: list[float] = []
        self.clears: list[float] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def write(self, pcm: bytes) -> None:
        self.writes.append(time.monotonic())
        self.sink.write(pcm)

    def clear(self) -> None:
        self.sink.clear()
        self.clears.append(time.monotonic())


class FrontEndSpy:
    """The runner's front end, with every event it reports (wake word, speech start and end) also shown
    to ``seen``: the bench's own window on the VAD."""

    def __init__(self, inner: FrontEndLike, seen: Callable[[Any], None]) -> None:
        self._inner = inner
        self._seen = seen

    @property
    def wake_enabled(self) -> bool:
        return self._inner.wake_enabled

    @wake_enabled.setter
    def wake_enabled(self, value: bool) -> None:
        self._inner.wake_enabled = value

    @property
    def vad_enabled(self) -> bool:
        return self._inner.vad_enabled

    @vad_enabled.setter
    def vad_enabled(self, value: bool) -> None:
        self._inner.vad_enabled = value

    def process(self, frame: bytes, ear: bytes | None = None) -> list[Any]:
        events = self._inner.process(frame, ear)
        for event in events:
            self._seen(event)
        return events

    def reset_vad(self) -> None:
        self._inner.reset_vad()


@dataclass
class BenchSpeaker:
    speaker: Speaker
    settings: Settings
    sink: TimingSink | None
    """The timed sink (None when the daemon writes its output file itself)."""

    async def run(self) -> None:
        """Until the input ends."""
        await self.speaker.runner.run(self.speaker.source)


@contextlib.asynccontextmanager
async def speaker_against_emulator(
    url: str, key: str, tmp: Path, config: str = "", *,
    input_file: Path | None = None, source: AudioSource | None = None, observers: Sequence[Observer] = (),
    broker_port: int | None = None, packs: Sequence[Path] = (), spy: Callable[[Any], None] | None = None,
    timed: bool = True, output: str = "out.wav",
) -> AsyncIterator[BenchSpeaker]:
    """The whole daemon (``assemble``) against the Realtime emulator at ``url``, configured in ``tmp``:
    the emulator's URL, its key (``key``, read from ``KEY_ENV``), MQTT to the broker on ``broker_port`` or
    none, the tool ``packs`` and no others, state in ``tmp``, plus ``config`` (further top-level YAML
    sections). Its input is ``input_file`` (paced like a device) or ``source``; its output goes to
    ``tmp / output``, through a ``TimingSink`` when ``timed`` (non-resilient, as the benches measure the
    sink itself), else through the sink the daemon opens. ``spy`` sees every front end event."""
    os.environ[KEY_ENV] = key
    mqtt = f"  host: 127.0.0.1\n  port: {broker_port}\n  site_id: bench\n" if broker_port is not None \
        else "  enabled: false\n"
    path = tmp / "bench.yaml"
    path.write_text(f"realtime:\n  url: {url}\n  api_key: {{env: {KEY_ENV}}}\n{config}"
                    f"mqtt:\n{mqtt}tools:\n  packs: [{', '.join(str(p) for p in packs)}]\nstate_dir: {tmp}\n")
    loaded = load_settings([path])
    settings = loaded.settings
    async with contextlib.AsyncExitStack() as stack:
        sink: TimingSink | None = None
        if timed:
            sink = TimingSink(await stack.enter_async_context(open_sink(settings.audio.output, file=tmp / output)))
        speaker = await stack.enter_async_context(assemble(
            loaded, api_key=key, input_file=input_file, source=source, sink=sink,
            output_file=None if timed else tmp / output, observers=observers))
        if spy is not None:
            speaker.runner.frontend = FrontEndSpy(speaker.runner.frontend, spy)
        yield BenchSpeaker(speaker, settings, sink)


@contextlib.asynccontextmanager
async def mosquitto() -> AsyncIterator[int]:
    """A Mosquitto broker on a free loopback port; yields the port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    proc = await asyncio.create_subprocess_exec("mosquitto", "-p", str(port), stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(5):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    await asyncio.sleep(0.05)  # polling a port that is not open yet: no event to wait on
                    continue
                writer.close()
                break
        yield port
    finally:
        proc.terminate()
        await proc.wait()
