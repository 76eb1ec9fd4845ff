"""Settings of ``timers:``: kitchen timers kept by the daemon."""

from __future__ import annotations

from pydantic import Field

from speaker.config.section import Section


class TimersSettings(Section):
    """Kitchen timers (the 'timers' built-in): kept by the daemon, not the session; persisted in state_dir."""

    max_ring_s: float = Field(default=300.0, ge=5, le=3600)
    """A finished timer rings until the wake word or the stop command ends it, or for this long."""
    missed_ring_s: float = Field(default=3600.0, ge=0, le=7 * 24 * 3600)
    """A timer that finished while the daemon was down rings at start if it finished at most this long ago;
    older ones are only reported (event timer_finished with missed: true)."""
    max_timers: int = Field(default=20, ge=1, le=100)
    """How many timers may run at once."""
    max_duration_s: int = Field(default=24 * 3600, ge=60, le=7 * 24 * 3600)
    """The longest timer the model may set."""
