"""Today's Realtime spend, reset at local midnight and kept across restarts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from speaker.device.store import DeviceStore


class CostToday:
    """USD spent today. ``clock`` gives Unix seconds; 'today' is the local date."""

    def __init__(self, store: DeviceStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        self.roll()

    def _today(self) -> str:
        return datetime.fromtimestamp(self._clock()).astimezone().date().isoformat()

    def roll(self) -> bool:
        """Start a new day if the date changed; True when it did (the retained value must be republished)."""
        today = self._today()
        state = self._store.state
        if state.cost_date == today:
            return False
        state.cost_date, state.cost_usd = today, 0.0
        self._store.save()
        return True

    def add(self, usd: float) -> None:
        if usd <= 0:
            return
        self.roll()
        self._store.state.cost_usd += usd
        self._store.save()

    @property
    def usd(self) -> float:
        return self._store.state.cost_usd

    def payload(self) -> dict[str, Any]:
        """The retained ``cost_today`` message."""
        return {"usd": round(self.usd, 6), "date": self._store.state.cost_date}
