"""A timer, and durations in words the model can say."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


@dataclass
class Timer:
    id: str
    name: str
    """What the user called it, or a label made from its duration ("5 minute timer")."""
    named: bool
    """Whether the user gave the name."""
    duration_s: float
    ends_at: float
    """Wall-clock deadline (Unix seconds): survives a restart."""
    ringing_since: float | None = None
    """When it started ringing (None while it counts down)."""

    def remaining(self, now: float) -> float:
        return max(self.ends_at - now, 0.0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Timer:
        """A stored timer; raises ValueError for anything malformed."""
        if not isinstance(data, dict):
            raise ValueError("a timer must be an object")
        try:
            timer = cls(id=str(data["id"]), name=str(data["name"]), named=bool(data.get("named", False)),
                        duration_s=float(data["duration_s"]), ends_at=float(data["ends_at"]),
                        ringing_since=None if data.get("ringing_since") is None else float(data["ringing_since"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed timer: {exc!r}") from None
        if not (math.isfinite(timer.duration_s) and math.isfinite(timer.ends_at)):
            raise ValueError("malformed timer: times must be finite")
        return timer

    def public(self, now: float) -> dict[str, Any]:
        """What MQTT and the model see."""
        return {
            "id": self.id,
            "name": self.name,
            "duration_s": round(self.duration_s),
            "remaining_s": round(self.remaining(now)),
            "ends_at": local_iso(self.ends_at),
            "ringing": self.ringing_since is not None,
        }


def spoken_duration(seconds: float) -> str:
    """``3725`` → ``1 hour 2 minutes 5 seconds``; ``0`` → ``0 seconds``."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in ((hours, "hour"), (minutes, "minute"),
                                                                     (secs, "second")) if n]
    return " ".join(parts) or "0 seconds"


def duration_label(seconds: float) -> str:
    """A name for an unnamed timer: ``5 minute timer``, ``90 second timer``, ``1 hour 30 minute timer``."""
    total = round(seconds)
    if total < 120 and total % 60:
        return f"{total} second timer"
    hours, rest = divmod(total, 3600)
    minutes = round(rest / 60)
    parts = [f"{hours} hour"] if hours else []
    if minutes or not hours:
        parts.append(f"{minutes} minute")
    return " ".join(parts) + " timer"


def local_iso(ts: float) -> str:
    """Unix seconds as a local ISO 8601 time with its UTC offset (for people and dashboards)."""
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def local_clock(ts: float) -> str:
    """Unix seconds as local ``HH:MM`` (what the model says: "it rings at 15:42")."""
    return datetime.fromtimestamp(ts).astimezone().strftime("%H:%M")
