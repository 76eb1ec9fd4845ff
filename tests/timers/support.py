"""Fakes for the timer tests: a wall clock the test moves, a listener that records."""

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
