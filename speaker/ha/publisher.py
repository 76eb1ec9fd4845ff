"""Outgoing device messages, sent in order by one task so nothing in the event loop waits for the broker.

* **Retained state** (``state``, ``volume``, discovery configs…) is remembered per topic: while the
  broker is away only the latest value matters, and ``snapshot()`` (called on every (re)connect) sends
  every remembered value again.
* **Events** are sent once. Events from before the first connection (a timer missed while the daemon
  was down) are held until it; events while the broker is away later are dropped (stale news misleads
  automations more than missing news does).

The cue for a snapshot is the speaker's own ``online`` on its availability topic, which the MQTT
connection publishes on every connect (the device subscribes to it).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from speaker.errors import ToolError
from speaker.mqtt.port import MqttPort

log = logging.getLogger(__name__)

MAX_QUEUE = 1000
MAX_EARLY_EVENTS = 100


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: str
    retain: bool
    qos: int


def encode(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


class Publisher:
    """Queue + sender. ``run()`` is the sender task; everything else is synchronous."""

    def __init__(self, mqtt: MqttPort | None) -> None:
        self._mqtt = mqtt
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue(MAX_QUEUE)
        self._retained: dict[str, str] = {}
        self._early: list[Outgoing] = []
        self._ever_connected = False
        self._dropped = 0

    def retain(self, topic: str, payload: str | dict[str, Any] | list[Any]) -> None:
        """Publish retained state, and remember it for the next reconnect (unchanged values are not resent)."""
        text = payload if isinstance(payload, str) else encode(payload)
        if self._retained.get(topic) == text:
            return
        self._retained[topic] = text
        if self._ever_connected:  # before the first connection, the first snapshot sends it
            self._put(Outgoing(topic, text, True, 1))

    def event(self, topic: str, payload: dict[str, Any], *, qos: int = 0) -> None:
        message = Outgoing(topic, encode(payload), False, qos)
        if self._ever_connected:
            self._put(message)
        elif self._mqtt is not None and len(self._early) < MAX_EARLY_EVENTS:
            self._early.append(message)

    def snapshot(self) -> None:
        """Send every remembered retained value again, then the events held since start."""
        self._ever_connected = True
        for topic, text in self._retained.items():
            self._put(Outgoing(topic, text, True, 1))
        early, self._early = self._early, []
        for message in early:
            self._put(message)

    def last(self, topic: str) -> str | None:
        """The last retained value given for ``topic``."""
        return self._retained.get(topic)

    def _put(self, message: Outgoing) -> None:
        if self._mqtt is None:
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 100 == 0:
                log.warning("MQTT device messages are piling up (broker slow?); %d dropped", self._dropped)

    async def run(self) -> None:
        """Send queued messages forever (cancel to stop)."""
        mqtt = self._mqtt
        if mqtt is None:
            return
        while True:
            message = await self._queue.get()
            if not mqtt.connected:
                continue  # retained values go out with the next snapshot; stale events are dropped
            try:
                await mqtt.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
            except ToolError as exc:  # MqttUnavailable / MqttUncertain
                log.debug("MQTT: %s not published: %s", message.topic, exc)
