"""Built-in tools through the registry: time, end of conversation, volume."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from speaker.errors import ConfigError
from speaker.tools.base import ToolRegistry
from speaker.tools.builtin import builtin_tools
from speaker.tools.schema import validate_arguments
from tests.tools.helpers import FakeHost, result

NOON_UTC = datetime(2025, 3, 1, 13, 5, tzinfo=UTC)  # a Saturday


def registry(host: FakeHost, timezone: str | None = None) -> ToolRegistry:
    reg = ToolRegistry(validate=validate_arguments)
    reg.extend(builtin_tools(["time", "end_conversation", "volume", "timers"], host, timezone=timezone,
                             now=lambda: NOON_UTC))
    return reg


def test_the_builtins_offered_and_timers_left_for_later() -> None:
    assert [s.name for s in registry(FakeHost()).specs()] == ["get_time", "end_conversation", "set_volume",
                                                                "get_volume"]


async def test_time_in_a_configured_zone() -> None:
    out = result(await registry(FakeHost(), "Europe/Berlin").execute("get_time", "{}"))
    assert out == {"time": "14:05", "date": "2025-03-01", "weekday": "Saturday", "timezone": "Europe/Berlin",
                   "utc_offset": "+01:00"}


@pytest.fixture
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def test_time_in_the_system_zone(tokyo: None) -> None:
    out = result(await registry(FakeHost()).execute("get_time", ""))
    assert (out["time"], out["date"], out["weekday"], out["utc_offset"]) == ("22:05", "2025-03-01", "Saturday",
                                                                             "+09:00")


def test_an_unknown_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown time zone"):
        builtin_tools(["time"], FakeHost(), timezone="Mars/Olympus")


async def test_end_conversation_asks_the_host() -> None:
    host = FakeHost()
    out = await registry(host).execute("end_conversation", "{}")
    assert out.ok and host.ended == 1


async def test_volume_is_validated_before_the_host_is_touched() -> None:
    host = FakeHost(volume=40)
    reg = registry(host)
    refused = await reg.execute("set_volume", '{"level": 150}')
    assert not refused.ok and "level must be between 0 and 100; you sent 150" in result(refused)["error"]
    assert not (await reg.execute("set_volume", '{"level": "loud"}')).ok
    assert host.set_calls == []
    assert result(await reg.execute("set_volume", '{"level": 65}')) == {"volume": 65}
    assert host.set_calls == [65]
    assert result(await reg.execute("get_volume", "{}")) == {"volume": 65}
