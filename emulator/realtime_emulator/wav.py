"""Reading a reply's WAV: 16-bit PCM, any rate and channel count, as the emulator's 24 kHz mono."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import soxr


def read_wav(path: str | Path, rate: int) -> bytes:
    """A 16-bit PCM WAV as mono s16le at ``rate`` (channels averaged, resampled with soxr if needed).
    ValueError names the file when it is not one."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2 or w.getcomptype() != "NONE":
                raise ValueError(f"{path}: the emulator speaks 16-bit PCM WAV only")
            channels, file_rate = w.getnchannels(), w.getframerate()
            data = w.readframes(w.getnframes())
    except wave.Error as exc:
        raise ValueError(f"{path}: not a WAV file ({exc})") from None
    mono = np.frombuffer(data, dtype="<i2").reshape(-1, channels).astype(np.float32).mean(axis=1)
    if file_rate != rate:
        mono = soxr.resample(mono, file_rate, rate, quality="HQ")
    pcm: bytes = np.clip(np.round(mono), -32768, 32767).astype("<i2").tobytes()
    return pcm
