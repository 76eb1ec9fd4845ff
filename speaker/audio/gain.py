"""Software volume shared by the sinks."""

from __future__ import annotations

import numpy as np


def volume_gain(percent: int) -> float:
    """Map a volume in percent to a linear gain.

    Squared, so the control feels even to the ear: 50 % is about -12 dB, 10 % about -40 dB; a linear
    map would put nearly all the audible change in the bottom fifth of the range."""
    p = min(max(percent, 0), 100) / 100.0
    return p * p


def check_volume(percent: int) -> int:
    if not 0 <= percent <= 100:
        raise ValueError(f"volume {percent} is out of range 0-100")
    return percent


def apply_gain(samples: np.ndarray, gain: float) -> np.ndarray:
    """Scale int16 samples; returns the input itself at unity gain."""
    if gain == 1.0:
        return samples
    scaled = np.multiply(samples, np.float32(gain), dtype=np.float32)
    out: np.ndarray = np.clip(np.rint(scaled), -32768, 32767).astype(np.int16)
    return out


def apply_gain_bytes(pcm: bytes, gain: float) -> bytes:
    if gain == 1.0:
        return pcm
    return apply_gain(np.frombuffer(pcm, dtype="<i2"), gain).tobytes()
