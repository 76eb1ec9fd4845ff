"""Incoming MQTT messages: the last state per topic, handlers by topic filter, and waiters for a
device's state echo. Plain synchronous bookkeeping fed by the connection's reader task."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from speaker.mqtt.topics import matches

log = logging.getLogger(__name__)

MAX_CACHED_TOPICS = 5000


@dataclass(frozen=True)
class MqttMessage:
    """A message received on a subscribed topic."""

    topic: str
    payload: bytes
    retain: bool
    qos: int
    received: float
    """Event-loop time (monotonic seconds) when it arrived."""

    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")


Handler = Callable[[MqttMessage], None]
"""Called in the event loop for each matching message. Must not block; hand work to a queue."""
Predicate = Callable[[bytes], bool]


@dataclass
class _Waiter:
    topic: str
    predicate: Predicate | None
    future: asyncio.Future[MqttMessage] = field(repr=False)


class Inbox:
    """Routes each received message to the cache, the handlers whose filter matches, and the
    waiters expecting it."""

    def __init__(self) -> None:
        self._cache: dict[str, MqttMessage] = {}
        self._handlers: list[tuple[str, Handler]] = []
        self._waiters: list[_Waiter] = []

    def add_handler(self, topic_filter: str, handler: Handler) -> None:
        self._handlers.append((topic_filter, handler))

    def remove_handler(self, topic_filter: str, handler: Handler) -> None:
        self._handlers.remove((topic_filter, handler))

    def deliver(self, message: MqttMessage) -> None:
        """Take in one message (never raises: a failing handler or predicate is logged)."""
        self._cache.pop(message.topic, None)
        # an empty payload clears a retained message; live subscribers get it with retain=0
        # (MQTT 3.1.1), so any empty payload means "no state known"
        if message.payload:
            self._cache[message.topic] = message
            if len(self._cache) > MAX_CACHED_TOPICS:
                del self._cache[next(iter(self._cache))]
        for topic_filter, handler in list(self._handlers):
            if matches(topic_filter, message.topic):
                try:
                    handler(message)
                except Exception:
                    log.exception("MQTT: handler for %s failed", topic_filter)
        for waiter in list(self._waiters):
            if waiter.topic != message.topic or waiter.future.done():
                continue
            try:
                accepted = waiter.predicate is None or waiter.predicate(message.payload)
            except Exception:
                log.exception("MQTT: predicate for %s failed", waiter.topic)
                accepted = False
            if accepted:
                waiter.future.set_result(message)

    def last_message(self, topic: str) -> MqttMessage | None:
        return self._cache.get(topic)

    def expect(self, topic: str, predicate: Predicate | None = None) -> asyncio.Future[MqttMessage]:
        """A future resolved by the next message on ``topic`` that satisfies ``predicate``."""
        future: asyncio.Future[MqttMessage] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(topic, predicate, future)
        self._waiters.append(waiter)
        future.add_done_callback(lambda _: self._waiters.remove(waiter))
        return future
