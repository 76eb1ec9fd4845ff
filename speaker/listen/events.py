"""Events the always-on front end produces. Times are stream seconds (samples seen / rate)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WakeDetected:
    model: str
    """The model's display name (its label, or the built-in name / file stem)."""
    score: float
    t: float
    """Stream time of the detection (end of the chunk that crossed the threshold)."""


@dataclass(frozen=True)
class SpeechStarted:
    t: float
    """Stream time of the first voiced frame of this speech."""


@dataclass(frozen=True)
class SpeechEnded:
    t: float
    """Stream time just after the last voiced frame (reported once the hangover has passed)."""


FrontEndEvent = WakeDetected | SpeechStarted | SpeechEnded
