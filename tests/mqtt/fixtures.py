"""Fixtures shared by tests/mqtt and tests/tools: an independent recorder client and a connected
MqttConnection, both on the per-test Mosquitto broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from speaker.config.schema import MqttSettings
from speaker.mqtt import MqttConnection
from tests.helpers.broker import Broker
from tests.mqtt.recorder import HANG_S, Recorder

__all__ = ["HANG_S", "connection", "eventually", "recorder", "settings_for"]


def settings_for(broker: Broker, **overrides: object) -> MqttSettings:
    """Settings for the test broker, with a short reconnect cap so outage tests stay fast."""
    values: dict[str, object] = {"host": broker.host, "port": broker.port, "site_id": "kitchen",
                                 "reconnect_max_s": 1.0, "keepalive_s": 5}
    values.update(overrides)
    return MqttSettings.model_validate(values)


@pytest.fixture
def recorder(broker: Broker) -> Iterator[Recorder]:
    rec = Recorder(broker.host, broker.port)
    try:
        yield rec
    finally:
        rec.close()


@pytest.fixture
async def connection(broker: Broker) -> AsyncIterator[MqttConnection]:
    async with MqttConnection(settings_for(broker), backoff_initial_s=0.05, publish_timeout_s=2.0) as conn:
        assert await conn.wait_connected(5), "the connection did not come up"
        yield conn


async def eventually(condition: Callable[[], bool], within: float = HANG_S) -> None:
    """Wait until ``condition()`` holds; fail the test after ``within`` seconds (at least ``HANG_S``:
    the bound catches a hang, never a slow machine)."""
    async with asyncio.timeout(max(within, HANG_S)):
        while not condition():  # noqa: ASYNC110 - polls state another thread or task changes
            await asyncio.sleep(0.01)
