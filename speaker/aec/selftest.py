"""``speaker echo-test``: play a test signal, record the microphone at the same time, and report the
playback → capture delay, the echo reduction (ERLE) and whether speech barge-in is safe.

The signal: a log chirp, a noise burst and a spoken phrase (the emulator's voice), 24 kHz, through
the configured output (or a file, or ``--simulate``: a simulated room, no devices), recorded through
the configured input (or a file) by the same echo chain the daemon uses."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from speaker.aec.delay import estimate_delay
from speaker.aec.factory import EchoChain, build_echo_chain
from speaker.aec.room import RoomLoopback, RoomSpec, to_int16
from speaker.audio.format import MIC, REALTIME
from speaker.audio.ports import AudioSink, AudioSource
from speaker.audio.wavfile import read_wav
from speaker.config.echo import EchoSettings
from speaker.config.loader import LoadedConfig

TAIL_S = 1.0
"""Recording goes on this long after the signal (the room's reverberation, device buffers)."""


@dataclass(frozen=True)
class EchoTestResult:
    delay_ms: float | None
    """Playback → capture delay; None when no echo was heard."""
    erle_db: float | None
    echo_dbfs: float
    """Loudness of the speaker at the microphone while the signal played (RMS)."""
    safe: bool
    reason: str
    canceller: str
    linear_erle_db: float | None = None
    """Echo reduction of the linear filter alone (what the wake word hears during a reply)."""


class _Recorder:
    """Keeps every reference/microphone frame pair for one offline delay estimate."""

    def __init__(self) -> None:
        self.reference: list[np.ndarray] = []
        self.mic: list[np.ndarray] = []

    def observe(self, reference: np.ndarray, mic: np.ndarray, out: np.ndarray) -> None:
        self.reference.append(reference.copy())
        self.mic.append(mic.copy())


def test_signal() -> bytes:
    """About 4.5 s at 24 kHz: silence, a chirp 150 Hz → 6 kHz, a noise burst, a spoken phrase."""
    rate = REALTIME.rate
    rng = np.random.default_rng(5)
    t = np.arange(rate) / rate
    f0, f1 = 150.0, 6000.0
    chirp = np.sin(2 * np.pi * f0 * (np.exp(t * np.log(f1 / f0)) - 1) / np.log(f1 / f0)) * 0.25 * 32768
    noise = np.clip(rng.standard_normal(rate) * 0.08 * 32768, -32768, 32767)
    with resources.as_file(resources.files("speaker.assets") / "echo_test_phrase.wav") as path:
        phrase = np.frombuffer(read_wav(Path(path), rate), dtype="<i2").astype(np.float64)

    def gap(s: float) -> np.ndarray:
        return np.zeros(round(s * rate))

    return to_int16(np.concatenate([gap(0.3), chirp, gap(0.2), noise, gap(0.3), phrase, gap(0.2)])).tobytes()


async def run_echo_test(source: AudioSource, sink: AudioSink, chain: EchoChain) -> EchoTestResult:
    """Play the test signal through ``sink`` while recording ``source`` through ``chain``."""
    signal = test_signal()
    recorder = _Recorder()
    chain.canceller.observers.append(recorder)
    frames_wanted = (REALTIME.ms_for_bytes(len(signal)) / 1000 + TAIL_S) * MIC.rate
    got = 0
    tap = chain.tap(sink)
    async with tap, chain.source(source, tap) as cancelled:
        tap.write(signal)
        async for frame in cancelled.frames():
            got += len(frame) // 2
            if got >= frames_wanted:
                break
        tap.clear()
    chain.canceller.observers.remove(recorder)
    return _result(chain, recorder)


def _result(chain: EchoChain, recorder: _Recorder) -> EchoTestResult:
    report = chain.monitor.report()
    mic = np.concatenate(recorder.mic) if recorder.mic else np.zeros(0, np.int16)
    ref = np.concatenate(recorder.reference) if recorder.reference else np.zeros(0, np.int16)
    loud = np.abs(ref.astype(np.float64)) > 100
    echo = float(np.sqrt(np.mean(mic.astype(np.float64)[loud] ** 2))) if loud.any() else 0.0
    echo_dbfs = 20 * np.log10(max(echo, 1.0) / 32768)
    found = estimate_delay(ref, mic)
    delay = None if found is None else round(found.delay_ms + chain.canceller.reference.offset_ms, 1)
    name = "webrtc" if chain.canceller.active else "pass-through"
    if report.erle_db is None and found is None:
        return EchoTestResult(None, None, round(echo_dbfs, 1), True,
                              "no echo reached the microphone: nothing to cancel", name)
    linear = None if report.linear_erle_db is None else round(report.linear_erle_db, 1)
    return EchoTestResult(delay, None if report.erle_db is None else round(report.erle_db, 1),
                          round(echo_dbfs, 1), report.safe, report.reason, name, linear)


def echo_test(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """The command: prints the result (``--json``: one JSON object); exit 0 if barge-in is safe."""
    settings = loaded.settings
    echo: EchoSettings = getattr(settings, "echo", None) or EchoSettings()
    chain = build_echo_chain(echo, input_device=settings.audio.input.device
                             if args.input_file is None and not args.simulate else None)
    source: AudioSource
    sink: AudioSink
    if args.simulate:
        loop = RoomLoopback(RoomSpec(delay_ms=args.sim_delay_ms, echo_db=args.sim_echo_db),
                            duration_s=REALTIME.ms_for_bytes(len(test_signal())) / 1000 + TAIL_S + 0.5)
        source, sink = loop.source, loop.sink
    else:
        from speaker.audio.factory import open_sink, open_source

        source = open_source(settings.audio.input, file=args.input_file, resilient=False)
        sink = open_sink(settings.audio.output, file=args.output_file)
    result = asyncio.run(run_echo_test(source, sink, chain))
    chain.canceller.close()
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        delay = "not measurable" if result.delay_ms is None else f"{result.delay_ms:.0f} ms"
        erle = "not measurable" if result.erle_db is None else f"{result.erle_db:.1f} dB"
        print(f"canceller:        {result.canceller}")
        print(f"echo level:       {result.echo_dbfs:.1f} dBFS at the microphone")
        print(f"delay:            {delay}")
        print(f"echo reduction:   {erle}")
        if result.linear_erle_db is not None:
            print(f"  linear filter:  {result.linear_erle_db:.1f} dB (what the wake word hears during a reply)")
        print(f"speech barge-in:  {'safe' if result.safe else 'NOT safe'} ({result.reason})")
    return 0 if result.safe else 1
