"""Feedback sounds, synthesized (no files to ship or license): short, soft, and distinct."""

from __future__ import annotations

import numpy as np

RATE = 24000


def tone(freqs: list[float], seconds: float, *, volume: float = 0.25, gap_s: float = 0.0) -> bytes:
    """A sequence of sine tones with 10 ms fades (no clicks), as 24 kHz pcm16."""
    parts = []
    n = int(RATE * seconds)
    t = np.arange(n) / RATE
    fade = min(n // 2, int(RATE * 0.01))
    env = np.ones(n)
    env[:fade] = np.linspace(0, 1, fade)
    env[n - fade:] = np.linspace(1, 0, fade)
    for f in freqs:
        parts.append(np.sin(2 * np.pi * f * t) * env * volume)
        if gap_s:
            parts.append(np.zeros(int(RATE * gap_s)))
    wave = np.concatenate(parts)
    return (wave * 32767).astype("<i2").tobytes()


def default_sounds() -> dict[str, bytes]:
    """The sounds the daemon plays by default. 'error' tells the user a conversation failed (bad key,
    service unreachable). The wake chime is opt-in, because the microphone hears it."""
    return {"error": tone([440.0, 330.0], 0.15, gap_s=0.05)}
