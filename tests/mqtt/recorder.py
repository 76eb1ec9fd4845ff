"""An independent MQTT client for tests: records what reaches the broker and can play a device.

It is a plain paho client on its own thread (not our asyncio code), speaking MQTT 5 with
"retain as published" so the retain flag of a live message is what the publisher set (MQTT 3.1.1
brokers clear it for established subscriptions)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

HANG_S = 30.0
"""The least any wait in the MQTT tests is bounded by: only a hang takes this long, never a busy machine."""


@dataclass(frozen=True)
class Seen:
    topic: str
    payload: bytes
    qos: int
    retain: bool

    @property
    def text(self) -> str:
        return self.payload.decode()


Reply = Callable[[Seen], tuple[str, str | bytes, bool] | None]


class Recorder:
    """Subscribes to ``topics`` (default: everything) and keeps every message it receives."""

    def __init__(self, host: str, port: int, topics: tuple[str, ...] = ("#",), client_id: str = "recorder") -> None:
        self.messages: list[Seen] = []
        self._lock = threading.Lock()
        self._replies: list[tuple[str, Reply]] = []
        self._subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._topics = topics
        self._client.on_connect = self._on_connect
        self._client.connect(host, port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(5):
            raise TimeoutError("the recorder could not subscribe")

    def _on_connect(self, client: mqtt.Client, *args: object) -> None:
        opts = SubscribeOptions(qos=2, retainAsPublished=True)
        client.subscribe([(t, opts) for t in self._topics])

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        seen = Seen(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain))
        with self._lock:
            self.messages.append(seen)
            replies = list(self._replies)
        for topic_filter, reply in replies:
            if mqtt.topic_matches_sub(topic_filter, seen.topic):
                answer = reply(seen)
                if answer is not None:
                    topic, payload, retain = answer
                    client.publish(topic, payload, qos=1, retain=retain)

    def reply(self, topic_filter: str, reply: Reply) -> None:
        """Act as a device: on each message matching the filter, publish what ``reply`` returns."""
        with self._lock:
            self._replies.append((topic_filter, reply))

    def publish(self, topic: str, payload: str | bytes, *, retain: bool = False, qos: int = 1) -> None:
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(5)

    def on(self, topic: str) -> list[Seen]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    async def wait_for(self, predicate: Callable[[Seen], bool], within: float = HANG_S) -> Seen:
        """The first recorded message satisfying ``predicate``; fails the test after ``within`` seconds
        (at least ``HANG_S``: the bound catches a hang, never a slow machine)."""
        within = max(within, HANG_S)
        deadline = time.monotonic() + within
        while True:
            with self._lock:
                for m in self.messages:
                    if predicate(m):
                        return m
            if time.monotonic() > deadline:
                with self._lock:
                    got = [(m.topic, m.payload) for m in self.messages]
                raise AssertionError(f"no matching message within {within} s; recorded: {got}")
            await asyncio.sleep(0.01)

    async def wait_topic(self, topic: str, within: float = HANG_S) -> Seen:
        return await self.wait_for(lambda m: m.topic == topic, within)

    async def quiet(self, seconds: float, ignore: Callable[[Seen], bool] = lambda m: False) -> list[Seen]:
        """Everything recorded (minus ``ignore``d messages) after waiting ``seconds``."""
        await asyncio.sleep(seconds)
        with self._lock:
            return [m for m in self.messages if not ignore(m)]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
