"""How loud the wake word was: the speech level a speaker claims with.

The runner hands over the pre-roll that fired (16 kHz mono s16le, the last ``WAKE_SEGMENT_MS`` before
the detection: openWakeWord fires about 230 ms after the phrase ends, so a second holds all of it).
The level is the RMS of its loudest ``ACTIVE_MS`` (in 20 ms frames): the voiced core of the phrase,
so the silence around it does not dilute the figure and two speakers that captured the same phrase
with different amounts of lead-in (pre-roll length, detection lag) still compare fairly. dBFS is
relative to a full-scale square wave (a full-scale sine reads −3 dBFS). The per-device calibration
offset (``rooms.level_offset_db``) is added on top: microphones differ by several dB, and only
calibrated levels are comparable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RATE = 16000
FRAME_MS = 20
ACTIVE_MS = 300
"""How much of the loudest audio is averaged: every wake phrase has more voiced speech than this."""
WAKE_SEGMENT_MS = 1000
"""How much of the pre-roll before the detection to measure."""
FLOOR_DBFS = -120.0
"""What digital silence (or no audio) reads: finite, so it can travel in JSON."""
_FULL_SCALE = 32768.0


@dataclass(frozen=True)
class Level:
    """A measured level, before and after calibration."""

    rms_dbfs: float
    """Speech RMS over the loudest frames, uncalibrated."""
    peak_dbfs: float
    """Largest sample, uncalibrated."""
    offset_db: float = 0.0
    """The device's calibration offset."""

    @property
    def calibrated(self) -> float:
        """The level a claim carries."""
        return self.rms_dbfs + self.offset_db

    @property
    def calibrated_peak(self) -> float:
        return self.peak_dbfs + self.offset_db


def _db(value: float) -> float:
    return FLOOR_DBFS if value <= 0 else max(FLOOR_DBFS, 20.0 * math.log10(value / _FULL_SCALE))


def wake_segment(preroll: bytes, segment_ms: int = WAKE_SEGMENT_MS) -> bytes:
    """The last ``segment_ms`` of the pre-roll (whole samples)."""
    n = (RATE * segment_ms // 1000) * 2
    usable = len(preroll) - len(preroll) % 2
    return preroll[max(0, usable - n):usable]


def measure(pcm: bytes, offset_db: float = 0.0) -> Level:
    """The speech level of ``pcm`` (16 kHz mono s16le; a trailing odd byte is ignored)."""
    if not math.isfinite(offset_db):
        raise ValueError("the level offset must be a finite number of dB")
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return Level(FLOOR_DBFS, FLOOR_DBFS, offset_db)
    frame = RATE * FRAME_MS // 1000
    whole = samples.size // frame
    if whole == 0:
        energies = np.array([np.mean(samples**2)])
    else:
        energies = np.mean(samples[: whole * frame].reshape(whole, frame) ** 2, axis=1)
    keep = min(energies.size, max(1, ACTIVE_MS // FRAME_MS))
    loudest = np.sort(energies)[-keep:]
    rms = math.sqrt(float(np.mean(loudest)))
    peak = float(np.max(np.abs(samples)))
    return Level(round(_db(rms), 2), round(_db(peak), 2), offset_db)
