"""`speaker bench --conversation`: latency and upload figures of a real conversation against the
Realtime emulator on loopback, in real time.

The input is built from the bundled demo audio: "hey jarvis, turn on the kitchen light", a long reply,
and — while that reply plays — "hey jarvis, turn on the kitchen light" again (a barge-in), then quiet
until the session closes. Everything runs as in the daemon (front end, core, runner, Realtime client,
file sink paced like a device); the emulator's own timestamps are the other side of each measurement.
"""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from speaker.audio.ports import AudioSink
from speaker.audio.resample import StreamResampler
from speaker.audio.wavfile import read_wav, write_wav
from speaker.config.schema import VadSettings
from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.conversation import Step
from speaker.errors import EMULATOR_MISSING
from speaker.listen.events import SpeechEnded, SpeechStarted
from speaker.runner import FrontEndLike
from speaker.vad.segmenter import SpeechSegmenter

KEY_ENV = "SPEAKER_BENCH_KEY"
KEY = "sk-emulator-bench"
LONG_REPLY = ("Here is a rather long answer, so that there is time to interrupt it: the kitchen light is a "
              "warm white lamp above the table, and it can be dimmed in small steps from very low to full.")


def _segments(pcm: bytes) -> list[tuple[float, float]]:
    seg = SpeechSegmenter(VadSettings(hangover_ms=200))  # splits "hey jarvis" from the command
    spans: list[tuple[float, float]] = []
    start = 0.0
    for ev in seg.process(pcm):
        if isinstance(ev, SpeechStarted):
            start = ev.t
        else:
            spans.append((start, ev.t))
    return spans


def _cut(pcm: bytes, a: float, b: float) -> bytes:
    return pcm[int(a * 16000) * 2:int(b * 16000) * 2]


def build_input(path: Path) -> float:
    """Write the scenario WAV; return the command's speech seconds."""
    demo = read_wav(Path(str(resources.files("speaker") / "assets" / "demo_input.wav")), 16000)
    spans = _segments(demo)
    if len(spans) < 2:
        raise RuntimeError("could not find the wake word and the command in the demo audio")
    (w0, w1), (c0, c1) = spans[0], spans[1]
    rng = np.random.default_rng(7)

    def silence(seconds: float) -> bytes:  # a quiet room: seeded white noise at -60 dBFS
        return (rng.standard_normal(int(seconds * 16000)) * 32768 * 10 ** (-60 / 20)).astype("<i2").tobytes()

    wake = _cut(demo, w0 - 0.05, w1 + 0.1)
    command = _cut(demo, c0 - 0.05, c1 + 0.05)
    pcm = silence(1.0) + wake + silence(0.3) + command + silence(2.5) + wake + silence(0.3) + command + silence(9)
    write_wav(path, pcm, 16000)
    return c1 - c0


class TimingSink:
    """Wraps the real sink: remembers when each write and clear happened."""

    def __init__(self, inner: AudioSink) -> None:
        self.inner = inner
        self.format = inner.format
        self.writes: list[float] = []
        self.clears: list[float] = []

    async def __aenter__(self) -> TimingSink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def write(self, pcm: bytes) -> None:
        self.writes.append(time.monotonic())
        self.inner.write(pcm)

    def clear(self) -> None:
        self.inner.clear()
        self.clears.append(time.monotonic())

    async def drain(self) -> None:
        await self.inner.drain()

    @property
    def written_ms(self) -> float:
        return self.inner.written_ms

    @property
    def played_ms(self) -> float:
        return self.inner.played_ms

    @property
    def volume(self) -> int:
        return self.inner.volume

    def set_volume(self, percent: int) -> None:
        self.inner.set_volume(percent)


@dataclass
class Probe:
    """A runner observer collecting the speaker-side times."""

    wakes: list[float] = field(default_factory=list)
    stops: list[float] = field(default_factory=list)
    drained: list[float] = field(default_factory=list)
    speech: list[tuple[float, float]] = field(default_factory=list)
    _start: float | None = None

    def observe(self, step: Step, now: float) -> None:
        match step:
            case O.WakeHeard():
                self.wakes.append(now)
            case A.StopPlayback():
                self.stops.append(now)
            case A.ResetVad():
                self.drained.append(now)
            case _:
                pass

    def vad(self, event: Any) -> None:
        if isinstance(event, SpeechStarted):
            self._start = event.t
        elif isinstance(event, SpeechEnded) and self._start is not None:
            self.speech.append((self._start, event.t))
            self._start = None


class _VadSpy:
    """The runner's front end, with every speech event also shown to the probe."""

    def __init__(self, inner: FrontEndLike, probe: Probe) -> None:
        self._inner = inner
        self._probe = probe

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
        events = self._inner.process(frame)
        for event in events:
            self._probe.vad(event)
        return events

    def reset_vad(self) -> None:
        self._inner.reset_vad()


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


async def run() -> dict[str, Any]:
    from realtime_emulator import Emulator, Reply, Script, Turn
    from speaker.app import assemble
    from speaker.audio.factory import open_sink
    from speaker.config import load_settings

    os.environ[KEY_ENV] = KEY
    with tempfile.TemporaryDirectory(prefix="speaker-bench-") as tmp_name:
        tmp = Path(tmp_name)
        wav = tmp / "input.wav"
        command_s = build_input(wav)
        script = Script(turns=[Turn(reply=Reply(LONG_REPLY)), Turn(reply=Reply("The kitchen light is on."))])
        async with Emulator(script, api_key=KEY) as emu:
            config = tmp / "bench.yaml"
            config.write_text(f"realtime:\n  url: {emu.url}\n  api_key: {{env: {KEY_ENV}}}\n"
                              "conversation:\n  follow_up_s: 2\n  idle_close_s: 2\n"
                              f"mqtt:\n  enabled: false\ntools:\n  packs: []\nstate_dir: {tmp}\n")
            loaded = load_settings([config])
            probe = Probe()
            async with open_sink(loaded.settings.audio.output, file=tmp / "out.wav") as real_sink:
                sink = TimingSink(real_sink)
                async with assemble(loaded, api_key=KEY, input_file=wav, sink=sink, observers=[probe]) as speaker:
                    runner = speaker.runner
                    runner.frontend = _VadSpy(runner.frontend, probe)  # the bench's own window on the VAD
                    await runner.run(speaker.source)
            stats = emu.stats[0]
            deltas = emu.times("response.output_audio.delta", sent=True)
            return _figures(emu, stats, deltas, sink, probe, loaded.settings.conversation.idle_close_s, command_s)


def _per_turn_upload(emu: Any) -> list[float]:
    """Seconds of audio appended before each commit (one entry per committed turn)."""
    turns, current = [], 0
    for logged in emu.log:
        kind = logged.event.get("type")
        if logged.direction != "received":
            continue
        if kind == "input_audio_buffer.append":
            current += len(base64.b64decode(logged.event["audio"]))
        elif kind == "input_audio_buffer.commit":
            turns.append(current / 48000)
            current = 0
    return turns


def _figures(emu: Any, stats: Any, deltas: list[float], sink: TimingSink, probe: Probe,
             idle_close_s: float, command_s: float) -> dict[str, Any]:
    wake = probe.wakes[0]
    connect_ms = (stats.connected_at - wake) * 1000
    first_append_ms = (stats.first_append_at - wake) * 1000
    # how much audio before speech onset the upload carries: find the onset in what the emulator got
    uploaded = b"".join(base64.b64decode(e["audio"])
                        for e in emu.events("input_audio_buffer.append", connection=0))
    back = StreamResampler(24000, 16000)
    first_turn = back.process(uploaded) + back.flush()
    onsets = _segments(first_turn)
    pre_onset_ms = onsets[0][0] * 1000 if onsets else float("nan")
    # emulator sent a delta -> our sink got the bytes (the barge-in drops late deltas: pair in order)
    lags = [(w - d) * 1000 for d, w in zip(deltas, sink.writes, strict=False) if w >= d]
    barge_ms = ((sink.clears[0] - probe.wakes[1]) * 1000) if len(probe.wakes) > 1 and sink.clears else float("nan")
    per_turn = _per_turn_upload(emu)
    close_s = (stats.closed_at - probe.drained[-1]) if stats.closed_at and probe.drained else float("nan")
    return {
        "connect_ms": connect_ms,
        "first_append_ms": first_append_ms,
        "first_append_after_connect_ms": first_append_ms - connect_ms,
        "pre_onset_ms": pre_onset_ms,
        "delta_to_sink_p50_ms": statistics.median(lags) if lags else float("nan"),
        "delta_to_sink_p95_ms": _pct(lags, 0.95) if lags else float("nan"),
        "delta_to_sink_max_ms": max(lags) if lags else float("nan"),
        "deltas": len(lags),
        "barge_in_to_silent_ms": barge_ms,
        "command_s": command_s,
        "sent_per_turn_s": per_turn,
        "extra_per_turn_s": [sent - command_s for sent in per_turn],
        "idle_close_s": close_s,
        "idle_close_target_s": idle_close_s,
        "violations": len(emu.violations),
    }


def main() -> int:
    try:
        import realtime_emulator  # noqa: F401  (its own distribution: say how to get it)
    except ModuleNotFoundError:
        print(f"speaker bench --conversation: {EMULATOR_MISSING}", file=sys.stderr)
        return 2
    print("conversation benchmark: real front end, core, runner and Realtime client against the EMULATOR "
          "on loopback, real time (about 25 s)")
    f = asyncio.run(run())
    rows = [
        ("wake -> WebSocket connected", f"{f['connect_ms']:.1f} ms", ""),
        ("wake -> first input_audio_buffer.append received", f"{f['first_append_ms']:.1f} ms",
         f"connect + {f['first_append_after_connect_ms']:.1f} ms (target <= connect + 30 ms)"),
        ("audio before speech onset in the upload", f"{f['pre_onset_ms']:.0f} ms", "target >= 300 ms"),
        ("emulator sends a delta -> bytes reach the sink", f"p50 {f['delta_to_sink_p50_ms']:.2f} ms, "
         f"p95 {f['delta_to_sink_p95_ms']:.2f} ms, max {f['delta_to_sink_max_ms']:.2f} ms", "target p95 <= 5 ms"),
        ("barge-in detected -> playback cleared", f"{f['barge_in_to_silent_ms']:.2f} ms",
         "target <= 150 ms (a device adds its buffer: audio.output.latency_ms)"),
        ("input audio sent per turn vs the command", ", ".join(f"{x:.2f} s" for x in f["sent_per_turn_s"])
         + f" for {f['command_s']:.2f} s of speech",
         "+" + ", +".join(f"{x:.2f} s" for x in f["extra_per_turn_s"]) + " (target <= +0.5 s)"),
        ("last reply played -> session closed", f"{f['idle_close_s']:.2f} s",
         f"target <= idle_close_s {f['idle_close_target_s']:.1f} + 0.5 s"),
        ("emulator protocol violations", str(f["violations"]), "target 0"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:<44} {note}")
    from speaker.bench_budget import print_refusal
    print_refusal()
    from speaker.bench_tokens import print_figures
    print_figures()
    from speaker.bench_confirm import print_confirm
    print_confirm()
    return 0
