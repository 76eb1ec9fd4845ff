"""A broker stand-in for the offline demo on a machine without Mosquitto: the device tools are offered
and validated as usual, and what they would publish is reported instead of sent."""

from __future__ import annotations

import logging
from collections.abc import Callable

from speaker.config.schema import MqttSettings
from speaker.mqtt.connection import MqttConnection

log = logging.getLogger(__name__)


class DryRunMqtt(MqttConnection):
    """Never connects. ``publish`` records and reports; state waits time out (so a tool that waits for
    the device's echo says it sent the command but could not confirm it)."""

    def __init__(self, settings: MqttSettings, on_publish: Callable[[str, str], None] | None = None) -> None:
        super().__init__(settings)
        self.published: list[tuple[str, str, int, bool]] = []
        self._on_publish = on_publish

    @property
    def connected(self) -> bool:
        return True

    async def ensure_subscribed(self, topic_filter: str, timeout_s: float | None = None) -> None:
        if topic_filter not in self._filters:
            self.subscribe(topic_filter)  # registered, so state waits behave; nothing will ever arrive

    async def publish(self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False, *,
                      timeout_s: float | None = None) -> None:
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        self.published.append((topic, text, qos, retain))
        log.info("dry run (no broker): would publish %s %s", topic, text)
        if self._on_publish is not None:
            self._on_publish(topic, text)
