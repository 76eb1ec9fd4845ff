"""Settings of ``vad:``: local voice activity detection, when a spoken turn starts and ends."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from speaker.config.section import Section


class VadSettings(Section):
    """Local voice activity detection (webrtcvad): when a turn starts and ends."""

    aggressiveness: int = Field(default=3, ge=0, le=3)
    """webrtcvad mode. 0-1 call loud room noise speech; 2-3 suit a far-field speaker."""
    frame_ms: Literal[10, 20, 30] = 30
    """VAD frame length."""
    start_ms: int = Field(default=90, ge=10, le=1000)
    """Voiced audio needed before speech counts as started."""
    hangover_ms: int = Field(default=600, ge=100, le=5000)
    """Silence needed before speech counts as ended."""
    pad_ms: int = Field(default=300, ge=0, le=1000)
    """Audio sent from before speech onset, so the first syllable is not clipped."""
    no_speech_timeout_s: float = Field(default=6.0, gt=0, le=60)
    """After the wake word, give up if nobody speaks within this time."""
    max_turn_s: float = Field(default=30.0, gt=1, le=300)
    """End a turn that never goes quiet (a TV in the room) after this long."""
