"""Playback → capture delay: GCC-PHAT between the reference handed to the canceller and the
microphone, kept up to date from real replies.

Sound cards differ (buffers, USB, Bluetooth): the canceller gets the measured figure as its stream
delay, and ``speaker echo-test`` prints it."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from speaker.audio.format import MIC

log = logging.getLogger(__name__)

MAX_DELAY_MS = 500
MIN_PEAK_RATIO = 6.0
"""How far the correlation peak must stand above the rest (in standard deviations) to be believed."""
ACTIVE_DBFS = -50.0
"""A reference frame louder than this counts as the speaker playing."""
_BAND_HZ = (200.0, 4000.0)
"""GCC-PHAT weights only the speech band: hum and hiss would otherwise dominate the whitened spectrum."""


@dataclass(frozen=True)
class DelayEstimate:
    delay_ms: float
    peak_ratio: float
    """The correlation peak over the others, in standard deviations (confidence)."""


def estimate_delay(reference: np.ndarray, mic: np.ndarray, *, rate: int = MIC.rate,
                   max_delay_ms: float = MAX_DELAY_MS) -> DelayEstimate | None:
    """How much later the reference appears in the microphone (GCC-PHAT), or None when the
    correlation has no clear peak (no echo heard, or nothing played)."""
    n = min(len(reference), len(mic))
    max_lag = int(max_delay_ms * rate / 1000)
    if n < 2 * max_lag or not np.any(reference[:n]):
        return None
    x = np.asarray(reference[:n], dtype=np.float64)
    y = np.asarray(mic[:n], dtype=np.float64)
    size = 1 << (2 * n - 1).bit_length()
    cross = np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size))
    freqs = np.fft.rfftfreq(size, 1 / rate)
    band = (freqs >= _BAND_HZ[0]) & (freqs <= _BAND_HZ[1])
    weighted = np.where(band, cross / (np.abs(cross) + 1e-12), 0.0)
    cc = np.fft.irfft(weighted, size)[: max_lag + 1]
    peak = int(np.argmax(cc))
    rest = np.delete(cc, np.arange(max(0, peak - 8), min(len(cc), peak + 9)))
    spread = float(np.std(rest)) or 1e-12
    ratio = (float(cc[peak]) - float(np.mean(rest))) / spread
    if ratio < MIN_PEAK_RATIO:
        return None
    return DelayEstimate(1000.0 * peak / rate, ratio)


class DelayEstimator:
    """A frame observer: collects the last ``window_s`` of frames in which the speaker played and
    re-estimates the delay after every ``every_s`` of them; ``delay_ms`` is the median of the last
    few confident estimates. ``on_estimate`` is called with each new median (to steer the engine)."""

    def __init__(self, *, window_s: float = 3.0, every_s: float = 2.0, keep: int = 5,
                 on_estimate: Callable[[int], None] | None = None) -> None:
        frames = round(window_s * 100)
        self._ref: deque[np.ndarray] = deque(maxlen=frames)
        self._mic: deque[np.ndarray] = deque(maxlen=frames)
        self._every = round(every_s * 100)
        self._since = 0
        self._recent: deque[float] = deque(maxlen=keep)
        self._on_estimate = on_estimate
        self._active_energy = 160 * (32768 * 10 ** (ACTIVE_DBFS / 20)) ** 2
        self.last: DelayEstimate | None = None

    @property
    def delay_ms(self) -> float | None:
        return float(np.median(self._recent)) if self._recent else None

    def observe(self, reference: np.ndarray, mic: np.ndarray, out: np.ndarray) -> None:
        self._ref.append(reference)
        self._mic.append(mic)
        ref = reference.astype(np.float64)
        if float(ref @ ref) < self._active_energy:
            return
        self._since += 1
        if self._since >= self._every and len(self._ref) == self._ref.maxlen:
            self._since = 0
            self.update()

    def update(self) -> DelayEstimate | None:
        """Estimate now from the collected window (the observer calls this by itself)."""
        if not self._ref:
            return None
        found = estimate_delay(np.concatenate(self._ref), np.concatenate(self._mic))
        if found is None:
            return None
        self.last = found
        self._recent.append(found.delay_ms)
        median = self.delay_ms
        assert median is not None
        log.debug("echo delay estimate %.0f ms (peak %.1f sd), median %.0f ms", found.delay_ms,
                  found.peak_ratio, median)
        if self._on_estimate is not None:
            self._on_estimate(round(median))
        return found
