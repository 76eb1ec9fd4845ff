"""``speaker bench --aec``: echo cancellation figures in the simulated room (printed, never asserted).

The reply is the emulator's voice (bundled clips, 24 kHz) played into a room with RT60 0.3 s, 60 ms
delay, the echo at -6 dB re the played signal. Printed: ERLE after convergence, convergence time,
CPU seconds per audio second of the canceller and of the wake word engine (hey_jarvis,
openWakeWord, as a stand-in for what a Raspberry Pi can afford), and how often the wake word in the
bundled demo recording is detected over the reply (through the wake word's ear, the linear filter of
``speaker.aec.linear``; through AEC3; not cancelled) against in silence."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import numpy as np

from speaker.aec.linear import LinearEar
from speaker.aec.passthrough import PassThroughCanceller
from speaker.aec.room import Room, RoomSpec, active_rms, to_int16
from speaker.aec.webrtc import WebRtcCanceller
from speaker.audio.format import MIC, REALTIME
from speaker.audio.wavfile import read_wav
from speaker.config.schema import WakeSettings

BLOCK_S = 0.5
OFFSETS_S = (0.0, 0.37, 0.74, 1.11, 1.48, 1.85)


def _asset(name: str, rate: int) -> np.ndarray:
    with resources.as_file(resources.files("speaker.assets") / name) as path:
        return np.frombuffer(read_wav(Path(path), rate), dtype="<i2")


def reply(seconds: float) -> np.ndarray:
    """The emulator's voice clips (its distribution's assets) back to back, cut to ``seconds``."""
    folder = resources.files("realtime_emulator") / "assets"
    clips = []
    for name in sorted(p.name for p in folder.iterdir() if p.name.startswith("emulator_")):
        with resources.as_file(folder / name) as path:
            clips.append(np.frombuffer(read_wav(Path(path), REALTIME.rate), dtype="<i2"))
    one = np.concatenate(clips)
    return np.resize(one, round(seconds * REALTIME.rate)).astype(np.int16)


def cancel(mic: np.ndarray, far: np.ndarray, *, noise_suppression: bool = True) -> tuple[np.ndarray, float]:
    """Cancelled ``mic`` and the CPU seconds it took (10 ms frames, reference first, as live)."""
    canceller = WebRtcCanceller(noise_suppression=noise_suppression)
    out = np.empty_like(mic)
    start = time.process_time()
    for i in range(0, len(mic) - 159, 160):
        canceller.add_reference(far[i * 3 // 2:(i + 160) * 3 // 2].tobytes())
        out[i:i + 160] = np.frombuffer(canceller.process(mic[i:i + 160].tobytes()), dtype="<i2")
    return out, time.process_time() - start


def linear(mic: np.ndarray, far: np.ndarray) -> tuple[np.ndarray, float]:
    """What the wake word hears (the linear filter's output, fed as the daemon feeds it) and the CPU
    seconds it took."""
    canceller = PassThroughCanceller()
    ear = LinearEar()
    canceller.observers.append(ear)
    start = time.process_time()
    for i in range(0, len(mic) - 159, 160):
        canceller.add_reference(far[i * 3 // 2:(i + 160) * 3 // 2].tobytes())
        canceller.process(mic[i:i + 160].tobytes())
    cpu = time.process_time() - start
    out = np.frombuffer(ear.take(), dtype="<i2")
    return np.concatenate([out, mic[len(out):]]), cpu


def _erle_blocks(mic: np.ndarray, out: np.ndarray) -> list[float]:
    hop = round(BLOCK_S * MIC.rate)
    blocks = []
    for i in range(0, len(mic) - hop + 1, hop):
        m, o = mic[i:i + hop].astype(np.float64), out[i:i + hop].astype(np.float64)
        blocks.append(10 * np.log10(float(m @ m) / max(float(o @ o), 1.0)))
    return blocks


def _settled(mic: np.ndarray, out: np.ndarray, from_s: float = 2.0) -> float:
    m, o = (x[round(from_s * MIC.rate):].astype(np.float64) for x in (mic, out))
    return float(10 * np.log10(np.sum(m ** 2) / np.sum(o ** 2)))


def main() -> int:
    seconds = 12.0
    room = Room(RoomSpec())
    far = reply(seconds)
    echo = room.echo(far)
    mic = to_int16(echo + room.noise(len(echo)))
    out, cpu = cancel(mic, far)
    blocks = _erle_blocks(mic, out)
    settled = _settled(mic, out)
    ear, ear_cpu = linear(mic, far)
    ear_blocks = _erle_blocks(mic, ear)
    converged = next((k * BLOCK_S for k in range(len(blocks)) if all(b >= 25 for b in blocks[k:])), None)
    audio_s = len(mic) / MIC.rate
    wake_cpu, rates = _wake(far, room)
    print("echo cancellation (WebRTC AEC3 via livekit) in the simulated room: RT60 0.3 s, 60 ms, echo -6 dB")
    print(f"  ERLE after convergence (from 2 s):      {settled:.1f} dB")
    print(f"  ERLE per {BLOCK_S:g} s block:                 {' '.join(f'{b:.0f}' for b in blocks)}")
    print(f"  convergence (every later block >= 25 dB): {converged if converged is not None else 'never'} s")
    print(f"  AEC CPU-s per audio second:             {cpu / audio_s:.4f}  ({1000 * cpu / (audio_s * 100):.3f} ms "
          "per 10 ms frame: inline on the event loop)")
    print(f"  wake engine CPU-s per audio second:     {wake_cpu:.4f}  (AEC / wake = {cpu / audio_s / wake_cpu:.2f})")
    print("  the wake word's ear (linear filter only, no suppressor):")
    print(f"    ERLE from 6 s:                        {_settled(mic, ear, 6.0):.1f} dB")
    print(f"    ERLE per {BLOCK_S:g} s block:               {' '.join(f'{b:.0f}' for b in ear_blocks)}")
    print(f"    CPU-s per audio second:               {ear_cpu / audio_s:.4f}  (ear / wake = "
          f"{ear_cpu / audio_s / wake_cpu:.2f}; nothing is computed while nothing plays)")
    print(f"  wake word in the demo recording, {len(OFFSETS_S)} offsets, near-end 6 dB below the echo:")
    for label, (hit, n) in rates.items():
        print(f"    {label:<36} {hit}/{n}")
    from speaker.aec.bench_duplex import print_duplex

    print_duplex(_asset("demo_input.wav", MIC.rate).astype(np.float64), reply(120.0))
    return 0


def _wake(far: np.ndarray, room: Room) -> tuple[float, dict[str, tuple[int, int]]]:
    from speaker.wake.factory import build_wake_engine

    engine = build_wake_engine(WakeSettings(), Path.cwd())
    demo = _asset("demo_input.wav", MIC.rate).astype(np.float64)
    wake_part = demo[: 4 * MIC.rate]  # the wake phrase comes first in the demo recording
    counts = {"in silence": 0, "over the reply, the wake word's ear": 0, "over the reply, AEC3": 0,
              "AEC3, no noise suppression": 0, "AEC3, reply ducked 20 dB": 0, "over the reply, not cancelled": 0}
    spent = 0.0
    audio = 0.0
    for offset in OFFSETS_S:
        lead = np.zeros(round((3.0 + offset) * MIC.rate))
        near = np.concatenate([lead, wake_part])
        far_part = far[: round(len(near) / MIC.rate * REALTIME.rate)]
        echo = room.echo(far_part)[: len(near)]
        near = near[: len(echo)]
        gain = active_rms(echo) * 10 ** (-6 / 20) / active_rms(wake_part)
        noise = room.noise(len(echo))
        quiet = to_int16(near * gain + noise)
        over = to_int16(echo + near * gain + noise)
        cancelled, _ = cancel(over, far_part)
        plain, _ = cancel(over, far_part, noise_suppression=False)
        # the daemon ducks the reply once its VAD hears the near end: here 0.2 s after the phrase begins
        ducked_far = far_part.astype(np.float64)
        ducked_far[round((3.0 + offset + 0.2) * REALTIME.rate):] *= 0.1
        ducked_far = to_int16(ducked_far)
        ducked, _ = cancel(to_int16(room.echo(ducked_far)[: len(near)] + near * gain + noise), ducked_far)
        ear, _ = linear(over, far_part)
        for label, signal in (("in silence", quiet), ("over the reply, the wake word's ear", ear),
                              ("over the reply, AEC3", cancelled), ("AEC3, no noise suppression", plain),
                              ("AEC3, reply ducked 20 dB", ducked),
                              ("over the reply, not cancelled", over)):
            engine.reset()
            start = time.process_time()
            hits = engine.process(signal.tobytes())
            spent += time.process_time() - start
            audio += len(signal) / MIC.rate
            counts[label] += 1 if hits else 0
    engine.close()
    return spent / audio, {k: (v, len(OFFSETS_S)) for k, v in counts.items()}
