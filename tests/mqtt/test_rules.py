"""Pure rules: reconnect backoff and which topics / topic values are allowed."""

from __future__ import annotations

import pytest

from speaker.backoff import Backoff
from speaker.mqtt.topics import (
    filter_problem,
    inventory_value_problem,
    matches,
    publish_topic_problem,
    topic_value_problem,
)


def test_mqtt_backoff_grows_is_capped_jittered_and_resets() -> None:
    """The broker reconnect loop uses equal jitter: never less than half the step."""
    top = Backoff(0.5, cap=8.0, rng=lambda: 1.0, min_fraction=0.5)
    assert [top.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    top.reset()
    assert top.next_delay() == 0.5
    low = Backoff(0.5, cap=8.0, rng=lambda: 0.0, min_fraction=0.5)
    assert [low.next_delay() for _ in range(3)] == [0.25, 0.5, 1.0]  # between half and all of the step


@pytest.mark.parametrize("value, problem", [
    ("kitchen", None),
    ("Küche 2", None),
    ("a/b", "'/'"),
    ("#", "'#'"),
    ("x+", "'+'"),
    ("nul\0", "NUL"),
    ("line\nbreak", "control character"),
    ("bell\x07", "control character"),
    ("\x85next", "control character"),
    ("$SYS", "'$'"),
    ("", "empty"),
    ("x" * 129, "129 characters"),
])
def test_values_substituted_into_topics(value: str, problem: str | None) -> None:
    found = topic_value_problem(value)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_inventory_values_may_contain_slashes_but_not_wildcards() -> None:
    assert inventory_value_problem("Living/Sofa Lamp") is None
    assert inventory_value_problem("Living/#") is not None
    assert inventory_value_problem("a\tb") is not None


def test_publish_topics_and_filters() -> None:
    assert publish_topic_problem("zigbee2mqtt/Lamp/set") is None
    assert publish_topic_problem("home/+/set") is not None
    assert publish_topic_problem("") is not None
    assert filter_problem("home/+/state") is None
    assert filter_problem("home/#") is None
    assert filter_problem("home/#/x") is not None
    assert filter_problem("home/a+") is not None
    assert matches("home/+/state", "home/kitchen/state")
    assert not matches("home/+/state", "home/kitchen/light/state")
