"""The Realtime spend of the local day and month, reset at local midnight / the 1st and kept across
restarts. Only the core's billed figures add to it; the budget it feeds is the core's
(``speaker.core.budget``), told through ``budget_event``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from speaker.config.cost import CostSettings
from speaker.core.events import BudgetChanged
from speaker.device.store import DeviceStore


class CostToday:
    """USD spent today and this month. ``clock`` gives Unix seconds; days and months are local."""

    def __init__(self, store: DeviceStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        self.roll()

    def _today(self) -> str:
        return datetime.fromtimestamp(self._clock()).astimezone().date().isoformat()

    def roll(self) -> bool:
        """Start a new day (and month) if the date changed; True when it did (the retained values must
        be republished and the core told)."""
        today = self._today()
        state = self._store.state
        if state.cost_date == today and state.cost_month == today[:7]:
            return False
        if state.cost_date != today:
            state.cost_date, state.cost_usd = today, 0.0
        if state.cost_month != today[:7]:
            state.cost_month, state.cost_month_usd = today[:7], 0.0
        self._store.save()
        return True

    def add(self, usd: float) -> None:
        if usd <= 0:
            return
        self.roll()
        self._store.state.cost_usd += usd
        self._store.state.cost_month_usd += usd
        self._store.save()

    @property
    def usd(self) -> float:
        return self._store.state.cost_usd

    @property
    def month_usd(self) -> float:
        return self._store.state.cost_month_usd

    def payload(self) -> dict[str, Any]:
        """The retained ``cost_today`` message."""
        state = self._store.state
        return {"usd": round(self.usd, 6), "date": state.cost_date,
                "month_usd": round(self.month_usd, 6), "month": state.cost_month}

    def budget_event(self) -> BudgetChanged:
        """What the core is told (at start, after every billed figure, when the date changed)."""
        state = self._store.state
        return BudgetChanged(self.usd, self.month_usd, state.cost_date or "", state.cost_month or "")

    def budget_payload(self, limits: CostSettings) -> dict[str, Any]:
        """The retained ``budget`` message: the limits, what is left of each (None: no limit) and
        whether a wake word is refused now."""
        day_left = None if limits.daily_usd is None else round(max(limits.daily_usd - self.usd, 0.0), 6)
        month_left = None if limits.monthly_usd is None else round(max(limits.monthly_usd - self.month_usd, 0.0), 6)
        return {
            "daily_usd": limits.daily_usd, "monthly_usd": limits.monthly_usd, "session_usd": limits.session_usd,
            "day_usd": round(self.usd, 6), "month_usd": round(self.month_usd, 6),
            "day_left_usd": day_left, "month_left_usd": month_left,
            "exhausted": day_left == 0.0 or month_left == 0.0,
            "date": self._store.state.cost_date, "month": self._store.state.cost_month,
        }
