"""Shared fixtures: a real Mosquitto broker, a private PulseAudio server."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.helpers.broker", "tests.helpers.pulse"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked ``slow`` first, the rest in their usual order after them. Under pytest-xdist
    (script/test hands out one test at a time) the long whole-speaker tests then start at once, spread over
    the workers, and the short ones fill the gaps, instead of a long one starting last and running alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: same order within each
