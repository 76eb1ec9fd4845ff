"""Test signals and measurements on int16 PCM."""

from __future__ import annotations

import numpy as np


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5, channels: int = 1) -> np.ndarray:
    """A sine at ``amplitude`` of full scale, int16, shaped (frames,) or (frames, channels)."""
    t = np.arange(int(seconds * rate)) / rate
    x = np.rint(amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    return x if channels == 1 else np.repeat(x[:, None], channels, axis=1)


def pcm(samples: np.ndarray) -> bytes:
    return samples.astype("<i2").tobytes()


def samples(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2")


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0


def peak(x: np.ndarray) -> int:
    return int(np.abs(x.astype(np.int32)).max()) if x.size else 0


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size)))
    return float(np.argmax(spectrum) * rate / x.size)


def sounding(x: np.ndarray, rate: int, *, window_ms: float = 2.0, threshold: float = 1000) -> np.ndarray:
    """Per sample: is a signal present (RMS over a short centred window above ``threshold``). Unlike
    ``abs(x) > threshold`` it does not miss a sine's zero crossings."""
    w = max(1, int(rate * window_ms / 1000))
    power = np.convolve(x.astype(np.float64) ** 2, np.ones(w) / w, mode="same")
    mask: np.ndarray = power > threshold**2
    return mask


def sounding_part(x: np.ndarray, rate: int, threshold: float = 1000) -> np.ndarray:
    """The contiguous stretch from the first to the last sounding sample."""
    idx = np.flatnonzero(sounding(x, rate, threshold=threshold))
    return x[idx[0]:idx[-1] + 1] if idx.size else x[:0]
