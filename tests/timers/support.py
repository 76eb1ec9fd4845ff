"""Fakes for the timer tests: a wall clock the test moves, a ringer that records, a listener that records."""

from __future__ import annotations

from typing import Any

from speaker.config.schema import TimersSettings

START = 1_800_000_000.0


class FakeClock:
    """Unix seconds that move only when the test says so."""

    def __init__(self, t: float = START) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class FakeRinger:
    def __init__(self, length: float = 0.02) -> None:
        self.length = length
        self.rings = 0
        self.silenced = 0
        self.is_busy = False
        self.busy_checks = 0

    def ring(self) -> float:
        self.rings += 1
        return self.length

    def silence(self) -> None:
        self.silenced += 1

    def busy(self) -> bool:
        self.busy_checks += 1
        return self.is_busy


class Events:
    """A TimerListener that keeps everything."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.snapshots: list[list[dict[str, Any]]] = []

    def timer_event(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    def timers_changed(self, timers: list[dict[str, Any]]) -> None:
        self.snapshots.append(timers)

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


def fast_settings(**overrides: Any) -> TimersSettings:
    """Settings with a ring short enough for a test (below the schema's minimum, hence model_construct)."""
    values: dict[str, Any] = {**TimersSettings().model_dump(), "max_ring_s": 0.3, **overrides}
    return TimersSettings.model_construct(**values)
