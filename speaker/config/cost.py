"""The ``cost`` section: budgets the speaker enforces (speaker.core.budget)."""

from __future__ import annotations

from pydantic import Field

from speaker.config.section import Section


class CostSettings(Section):
    """Spending limits for the Realtime service, in USD (priced from the service's own token counts).
    Spend per local day and month is kept in ``state_dir`` across restarts."""

    daily_usd: float | None = Field(default=None, gt=0, le=1000)
    """Once this much was spent today (local date), a wake word opens no session: the speaker says
    locally that today's budget is used up. Local commands (timers, stop, volume, mute) keep working. null: no limit."""
    monthly_usd: float | None = Field(default=None, gt=0, le=10000)
    """The same for the calendar month (local time). null: no limit."""
    session_usd: float | None = Field(default=None, gt=0, le=100)
    """A conversation that has cost this much finishes its current reply, says goodbye (locally) and
    closes. null: no limit."""
