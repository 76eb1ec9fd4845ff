"""Whole-file WAV helpers for offline tools (wake-test, bench, demo, tests). Streaming goes through
the file source/sink adapters instead."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import soxr

from speaker.audio.format import SAMPLE_WIDTH
from speaker.errors import SpeakerError


class WavFormatError(SpeakerError, ValueError):
    """Not a WAV file, or one these helpers cannot decode (the message names the file)."""


def read_wav(path: str | Path, rate: int, *, channels: list[int] | None = None) -> bytes:
    """Read a 16-bit PCM WAV as mono s16le at ``rate``: the chosen channels are averaged (default:
    all), and the audio is resampled with soxr when the file's rate differs."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != SAMPLE_WIDTH or w.getcomptype() != "NONE":
                raise WavFormatError(f"{path}: only 16-bit PCM WAV is supported "
                                     f"(this file has {8 * w.getsampwidth()}-bit {w.getcomptype()})")
            n_channels, file_rate = w.getnchannels(), w.getframerate()
            data = w.readframes(w.getnframes())
    except wave.Error as exc:
        raise WavFormatError(f"{path}: not a WAV file ({exc})") from None
    samples = np.frombuffer(data, dtype="<i2").reshape(-1, n_channels)
    picked = channels if channels is not None else list(range(n_channels))
    bad = [c for c in picked if c >= n_channels]
    if bad:
        raise WavFormatError(f"{path}: has {n_channels} channel(s); channel {bad[0]} does not exist")
    mono = samples[:, picked].astype(np.float32).mean(axis=1) if len(picked) > 1 \
        else samples[:, picked[0]].astype(np.float32)
    if file_rate != rate:
        mono = soxr.resample(mono, file_rate, rate, quality="HQ")
    pcm: bytes = np.clip(np.round(mono), -32768, 32767).astype("<i2").tobytes()
    return pcm


def write_wav(path: str | Path, pcm: bytes, rate: int, channels: int = 1) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(rate)
        w.writeframes(pcm)
