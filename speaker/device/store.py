"""The device settings the speaker remembers across restarts (``<state_dir>/device.json``): volume,
mute, the wake word choice, the spend of the day and the month, and the Realtime service's last fatal
refusal (for ``speaker check`` and Home Assistant's problem entity)."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from speaker.timers.store import load_json, save_json

log = logging.getLogger(__name__)


@dataclass
class DeviceState:
    volume: int | None = None
    """Last volume set by a command or the volume tool (None: the configured one)."""
    muted: bool = False
    wake_word: str | None = None
    """The wake word chosen in Home Assistant ('all' or a model name; None: all)."""
    cost_date: str | None = None
    """Local date (ISO) that ``cost_usd`` belongs to."""
    cost_usd: float = 0.0
    cost_month: str | None = None
    """Local month (YYYY-MM) that ``cost_month_usd`` belongs to."""
    cost_month_usd: float = 0.0
    rooms_take_part: bool | None = None
    """The 'take part in multi-room' switch (None: ``rooms.take_part``)."""
    fatal_reason: str | None = None
    """The service's last fatal refusal (bad key, no quota…); None once a session opened again."""
    fatal_code: str | None = None
    fatal_at: float | None = None
    """Unix time of that refusal."""

    def problem(self) -> dict[str, Any]:
        """The problem entity's payload (state and attributes)."""
        if self.fatal_reason is None:
            return {"problem": False}
        return {"problem": True, "reason": self.fatal_reason, "code": self.fatal_code, "since": self.fatal_at}


class DeviceStore:
    """Loads the state once; ``save()`` writes it atomically. ``path`` None keeps it in memory."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.state = self._load()

    def _load(self) -> DeviceState:
        if self.path is None:
            return DeviceState()
        data = load_json(self.path)
        if not isinstance(data, dict):
            return DeviceState()
        state = DeviceState()
        volume = data.get("volume")
        if isinstance(volume, int) and not isinstance(volume, bool) and 0 <= volume <= 100:
            state.volume = volume
        state.muted = data.get("muted") is True
        wake = data.get("wake_word")
        state.wake_word = wake if isinstance(wake, str) else None
        date = data.get("cost_date")
        cost = data.get("cost_usd")
        if isinstance(date, str) and isinstance(cost, int | float) and math.isfinite(cost) and cost >= 0:
            state.cost_date, state.cost_usd = date, float(cost)
        month = data.get("cost_month")
        month_cost = data.get("cost_month_usd")
        if isinstance(month, str) and isinstance(month_cost, int | float) and math.isfinite(month_cost) \
                and month_cost >= 0:
            state.cost_month, state.cost_month_usd = month, float(month_cost)
        elif state.cost_date is not None:  # written before months were kept: the day is all we know
            state.cost_month, state.cost_month_usd = state.cost_date[:7], state.cost_usd
        take_part = data.get("rooms_take_part")
        state.rooms_take_part = take_part if isinstance(take_part, bool) else None
        reason, code, at = data.get("fatal_reason"), data.get("fatal_code"), data.get("fatal_at")
        if isinstance(reason, str):
            state.fatal_reason = reason[:1000]
            state.fatal_code = code[:100] if isinstance(code, str) else None
            state.fatal_at = float(at) if isinstance(at, int | float) and math.isfinite(at) else None
        return state

    def save(self) -> None:
        if self.path is not None:
            save_json(self.path, self._json())

    def _json(self) -> dict[str, Any]:
        return asdict(self.state)
