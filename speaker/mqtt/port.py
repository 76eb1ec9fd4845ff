"""The MQTT port: what tools need from a connection. ``MqttConnection`` implements it; tests may
plug in a fake."""

from __future__ import annotations

import asyncio
from typing import Protocol

from speaker.mqtt.connection import Subscription
from speaker.mqtt.inbox import Handler, MqttMessage, Predicate


class MqttPort(Protocol):
    @property
    def connected(self) -> bool: ...

    async def publish(self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False, *,
                      timeout_s: float | None = None) -> None: ...

    def subscribe(self, topic_filter: str, handler: Handler | None = None) -> Subscription: ...

    async def ensure_subscribed(self, topic_filter: str, timeout_s: float | None = None) -> None: ...

    def last_message(self, topic: str) -> MqttMessage | None: ...

    def expect(self, topic: str, predicate: Predicate | None = None) -> asyncio.Future[MqttMessage]: ...

    async def wait_for(self, topic: str, predicate: Predicate | None = None, timeout_s: float = 2.0, *,
                       include_last: bool = False) -> MqttMessage: ...
