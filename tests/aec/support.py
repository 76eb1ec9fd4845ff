"""Running a canceller over a scene the way the daemon does: each 10 ms the reference that played,
then the microphone block."""

from __future__ import annotations

import numpy as np
import webrtcvad

from speaker.aec.framing import FramedCanceller
from speaker.audio.format import MIC


def run(canceller: FramedCanceller, mic: np.ndarray, reference: np.ndarray, *, block: int = 160,
        reference_lag: int = 0) -> np.ndarray:
    """Cancelled ``mic`` (int16, 16 kHz) fed in ``block``-sample blocks; ``reference`` (24 kHz)
    goes in beforehand, 1.5 samples per microphone sample, ``reference_lag`` 24 kHz samples late."""
    ref = np.concatenate([np.zeros(reference_lag, dtype=np.int16), reference])
    out = []
    pos = 0.0
    for i in range(0, len(mic) - block + 1, block):
        end = round((i + block) * 1.5)
        canceller.add_reference(ref[round(pos):end].tobytes())
        pos = end
        res = canceller.process(mic[i:i + block].tobytes())
        assert len(res) == 2 * block
        out.append(np.frombuffer(res, dtype="<i2"))
    return np.concatenate(out)


def erle_db(mic: np.ndarray, out: np.ndarray, echo: np.ndarray, *, from_s: float = 2.0) -> float:
    """Echo reduction over the 10 ms frames after ``from_s`` where the echo is audible."""
    hop = MIC.rate // 100
    n = min(len(mic), len(out), len(echo)) // hop * hop
    m = mic[:n].astype(np.float64).reshape(-1, hop)
    o = out[:n].astype(np.float64).reshape(-1, hop)
    e = echo[:n].reshape(-1, hop)
    audible = np.mean(e * e, axis=1) > (32768 * 10 ** (-55 / 20)) ** 2
    audible[: round(from_s * 100)] = False
    return float(10 * np.log10(np.sum(m[audible] ** 2) / np.sum(o[audible] ** 2)))


def vad_frames(x: np.ndarray, aggressiveness: int = 3) -> np.ndarray:
    """webrtcvad's verdict on each 30 ms frame."""
    vad = webrtcvad.Vad(aggressiveness)
    hop = 480
    return np.array([vad.is_speech(x[i:i + hop].astype("<i2").tobytes(), MIC.rate)
                     for i in range(0, len(x) - hop + 1, hop)])


def frames_inside(verdicts: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    t = np.arange(len(verdicts)) * 0.03
    return (t >= span[0]) & (t + 0.03 <= span[1])
