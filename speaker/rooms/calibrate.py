"""Calibrating a speaker's microphone for arbitration (called by `speaker check`).

Microphones differ: a ReSpeaker HAT and a USB array hear the same voice several dB apart, and the
loudest *calibrated* level wins. To calibrate, say the wake word (the test phrase) at 1 m from each
speaker; this reports the level it heard and the ``rooms.level_offset_db`` that makes that phrase
read ``REFERENCE_DBFS``. With every speaker calibrated to the same reference, the nearest one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from speaker.audio.wavfile import read_wav
from speaker.rooms.level import RATE, Level, measure

REFERENCE_DBFS = -30.0
"""What a normal voice at 1 m should read after calibration (a typical far-field array reads
−35…−25 dBFS there, so offsets stay small)."""
NOTHING_HEARD_DBFS = -60.0
CLIPPING_DBFS = -1.0
OFFSET_LIMIT_DB = 40.0
"""The range ``rooms.level_offset_db`` accepts."""


@dataclass(frozen=True)
class Calibration:
    level: Level
    """What the test phrase measured, with the offset currently configured."""
    reference_dbfs: float
    suggested_offset_db: float
    """The offset that makes this phrase read the reference."""
    problem: str | None
    """Why the measurement is not usable (nothing heard, clipping), or None."""

    def lines(self) -> list[str]:
        """Human-readable report lines for `speaker check`."""
        lv = self.level
        out = [f"rooms: test phrase heard at {lv.rms_dbfs:.1f} dBFS speech level (peak {lv.peak_dbfs:.1f} dBFS); "
               f"with level_offset_db {lv.offset_db:+.1f} it claims {lv.calibrated:.1f} dBFS"]
        if self.problem is not None:
            out.append(f"rooms: cannot calibrate from this recording: {self.problem}")
        else:
            out.append(f"rooms: to read {self.reference_dbfs:.0f} dBFS for a voice at 1 m, set "
                       f"rooms.level_offset_db: {self.suggested_offset_db:+.1f}")
        return out


def calibrate(pcm: bytes, offset_db: float = 0.0, *, reference_dbfs: float = REFERENCE_DBFS) -> Calibration:
    """Measure a recording of the test phrase (16 kHz mono s16le) said at 1 m."""
    level = measure(pcm, offset_db)
    suggested = max(-OFFSET_LIMIT_DB, min(OFFSET_LIMIT_DB, round(reference_dbfs - level.rms_dbfs, 1)))
    problem = None
    if level.rms_dbfs < NOTHING_HEARD_DBFS:
        problem = f"no speech heard (below {NOTHING_HEARD_DBFS:.0f} dBFS): check the microphone and say the phrase"
    elif level.peak_dbfs > CLIPPING_DBFS:
        problem = "the recording clips: lower the microphone gain or speak from further away"
    elif abs(reference_dbfs - level.rms_dbfs) > OFFSET_LIMIT_DB:
        problem = f"the offset needed is beyond ±{OFFSET_LIMIT_DB:.0f} dB: check the microphone gain"
    return Calibration(level, reference_dbfs, suggested, problem)


def calibrate_file(path: str | Path, offset_db: float = 0.0, *, channels: list[int] | None = None) -> Calibration:
    """``calibrate`` on a WAV file (any rate; the chosen channels are averaged)."""
    return calibrate(read_wav(path, RATE, channels=channels), offset_db)
