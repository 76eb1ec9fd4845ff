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
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speaker.audio.resample import StreamResampler
from speaker.audio.wavfile import write_wav
from speaker.bench_support import (
    TimingSink,
    demo_request,
    print_rows,
    quiet_room,
    speaker_against_emulator,
    speech_spans,
)
from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.conversation import Step
from speaker.errors import EMULATOR_MISSING
from speaker.listen.events import SpeechEnded, SpeechStarted

KEY = "sk-emulator-bench"
LONG_REPLY = ("Here is a rather long answer, so that there is time to interrupt it: the kitchen light is a "
              "warm white lamp above the table, and it can be dimmed in small steps from very low to full.")


def build_input(path: Path) -> float:
    """Write the scenario WAV; return the command's speech seconds."""
    request = demo_request()
    silence = quiet_room(7)
    wake, command = request.wake, request.command
    pcm = silence(1.0) + wake + silence(0.3) + command + silence(2.5) + wake + silence(0.3) + command + silence(9)
    write_wav(path, pcm, 16000)
    return request.command_s


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


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


async def run() -> dict[str, Any]:
    from realtime_emulator import Emulator, Reply, Script, Turn

    with tempfile.TemporaryDirectory(prefix="speaker-bench-") as tmp_name:
        tmp = Path(tmp_name)
        wav = tmp / "input.wav"
        command_s = build_input(wav)
        script = Script(turns=[Turn(reply=Reply(LONG_REPLY)), Turn(reply=Reply("The kitchen light is on."))])
        probe = Probe()
        config = "conversation:\n  follow_up_s: 2\n  idle_close_s: 2\n"
        async with Emulator(script, api_key=KEY) as emu:
            async with speaker_against_emulator(emu.url, KEY, tmp, config, input_file=wav, observers=[probe],
                                                spy=probe.vad) as bench:
                await bench.run()
            assert bench.sink is not None
            stats = emu.stats[0]
            deltas = emu.times("response.output_audio.delta", sent=True)
            return _figures(emu, stats, deltas, bench.sink, probe, bench.settings.conversation.idle_close_s,
                            command_s)


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
    onsets = speech_spans(first_turn)
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
    print_rows(rows, 44)
    from speaker.bench_budget import print_refusal
    print_refusal()
    from speaker.bench_tokens import print_figures
    print_figures()
    from speaker.bench_confirm import print_confirm
    print_confirm()
    return 0
