"""The shared trigger rules: rising edge above threshold, crossing value reported, refractory period."""

from __future__ import annotations

import pytest

from speaker.listen.events import WakeDetected
from speaker.wake.trigger import Trigger


def run(trigger: Trigger, scores: list[float], step: float = 0.08) -> list[WakeDetected]:
    events = []
    for i, score in enumerate(scores):
        event = trigger.update(score, round((i + 1) * step, 6))
        if event is not None:
            events.append(event)
    return events


def test_fires_once_per_rising_edge_and_reports_the_crossing_value() -> None:
    trigger = Trigger("hey_jarvis", 0.5, refractory_s=0.0)
    events = run(trigger, [0.1, 0.4, 0.7, 0.95, 0.99, 0.6, 0.2, 0.8, 0.3])
    assert events == [WakeDetected("hey_jarvis", 0.7, 0.24), WakeDetected("hey_jarvis", 0.8, 0.64)]


def test_a_score_equal_to_the_threshold_does_not_fire() -> None:
    trigger = Trigger("m", 0.5, refractory_s=0.0)
    assert run(trigger, [0.5, 0.5, 0.5]) == []


def test_first_score_above_threshold_fires() -> None:
    assert run(Trigger("m", 0.5, 0.0), [0.9]) == [WakeDetected("m", 0.9, 0.08)]


def test_refractory_swallows_edges_until_it_has_passed() -> None:
    trigger = Trigger("m", 0.5, refractory_s=1.0)
    scores = [0.9, 0.1, 0.9, 0.1] + [0.1] * 9 + [0.9]  # edges at 0.08, 0.24 (inside), 1.12 (after)
    events = run(trigger, scores)
    assert [e.t for e in events] == [0.08, 1.12]


def test_score_still_high_when_refractory_ends_does_not_fire_again() -> None:
    trigger = Trigger("m", 0.5, refractory_s=0.2)
    assert len(run(trigger, [0.9] * 20)) == 1


def test_reset_rearms_and_forgets_the_last_detection() -> None:
    trigger = Trigger("m", 0.5, refractory_s=10.0)
    assert trigger.update(0.9, 1.0) is not None
    trigger.reset()
    assert trigger.update(0.9, 0.5) == WakeDetected("m", 0.9, 0.5)


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.1, 1.5])
def test_threshold_outside_zero_one_is_rejected(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        Trigger("m", threshold, 0.0)
