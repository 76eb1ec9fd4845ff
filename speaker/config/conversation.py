"""Settings of ``conversation:``: follow-up, barge-in and when the session closes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from speaker.config.section import Section


class ConversationSettings(Section):
    """Follow-up, barge-in and when the session closes."""

    follow_up_s: float = Field(default=5.0, ge=0, le=60)
    """After a reply, listen this long for a follow-up without the wake word (0 disables)."""
    idle_close_s: float = Field(default=5.0, ge=0, le=300)
    """Close the Realtime session when nothing happened this long after the last reply ended."""
    barge_in: Literal["auto", "wake", "speech", "off"] = "auto"
    """What interrupts a reply: auto = plain speech while the daemon's echo cancellation is active and
    measured safe, else the wake word; wake = the wake word only (half duplex); speech = any speech; off = nothing."""
    echo_tail_ms: int = Field(default=300, ge=0, le=2000)
    """After playback stops, ignore the microphone this long (room echo)."""
    max_session_s: float = Field(default=55 * 60, ge=60, le=60 * 60)
    """End the conversation before the server's 60-minute cap."""
    response_timeout_s: float = Field(default=20.0, gt=0, le=300)
    """Give up on a reply that does not start within this time."""
    memory_s: float = Field(default=300.0, ge=0, le=24 * 3600)
    """A conversation started this soon after the last one closed begins with a short text summary of
    it (the replies' transcripts, and your words if realtime.transcription is on); 0 = no memory."""
    retry_refused_s: float = Field(default=600.0, ge=10, le=7 * 24 * 3600)
    """After the service refused the speaker for good (bad key, no quota, unknown model), nothing is
    retried in a loop; the first wake word this long after the refusal tries once more, so a fixed key or
    a topped-up account is picked up without a restart."""

    @model_validator(mode="after")
    def _windows(self) -> ConversationSettings:
        if self.idle_close_s < self.follow_up_s:
            raise ValueError("idle_close_s must be at least follow_up_s (the follow-up needs the open session)")
        return self
