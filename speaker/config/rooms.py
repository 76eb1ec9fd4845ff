"""Settings of multi-room arbitration: several speakers on one broker, one answer per wake word.

The root ``Settings`` holds it as ``rooms``; it takes effect whenever ``mqtt.enabled`` is true.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RoomsSettings(BaseModel):
    """Several speakers that share a broker and ``mqtt.base_topic`` pick one answer per wake word:
    the one that heard it loudest (after calibration). A speaker that knows of no other live
    speaker never waits for it."""

    # same rules as every section of the settings tree (speaker.config.schema.Section); repeated
    # here so this file does not depend on where that base class lives
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    enabled: bool = True
    """false: no arbitration traffic at all; every wake word this speaker hears is answered by it."""
    take_part: bool = True
    """Initial state of the speaker's 'take part' switch: false answers every wake alone and claims
    nothing, so the other speakers never wait for it."""
    window_ms: int = Field(default=100, ge=0, le=1000)
    """How long a speaker with live neighbours collects claims after its own detection before it
    decides. It must cover the spread of detection times of one utterance plus the broker's delivery
    delay (measured 3–42 ms); it is the winner's extra latency (the issue allows 150 ms)."""
    same_wake_ms: int = Field(default=250, ge=10, le=2000)
    """Claims whose detection times (wall clock) are this close belong to one utterance. Wider than
    the spread of one utterance (about 30 ms: sound over 5 m, detector jitter, NTP skew), narrower
    than the shortest gap between two separate wake words (the phrase itself lasts over 0.5 s)."""
    level_offset_db: float = Field(default=0.0, ge=-40.0, le=40.0)
    """Calibration added to the measured speech level, so that microphones with different gains
    compare fairly (`speaker check` reports the level heard; see the README)."""
    takeover_s: float = Field(default=3.0, ge=0.0, le=30.0)
    """How long after a wake the runner-up stays ready to answer if the winner releases the floor
    (its session failed to open) or goes offline."""
