"""Home Assistant MQTT discovery: the speaker as one device with its entities.

Each entity's config is published retained to ``<prefix>/<component>/speaker_<site>/<key>/config`` (on
every connect, and again when Home Assistant announces ``<prefix>/status`` = online). An empty retained
payload on the same topic removes the entity: ``remove_discovery(settings)`` does that for every entity
(and clears the speaker's retained state topics), for the uninstall script.

Cost today is a sensor with ``state_class: total_increasing`` and unit USD: it only grows during the day
and drops to 0 at local midnight, which is exactly what total_increasing means to Home Assistant (a
decrease starts a new cycle, so long-term statistics add the days up). ``measurement`` would be wrong:
statistics would average a running total. The ``monetary`` device class is left out on purpose:
Home Assistant only accepts it with ``state_class: total`` and an explicit ``last_reset``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import aiomqtt

from speaker import __version__
from speaker.config.schema import Settings
from speaker.ha.commands import ALL_WAKE_WORDS
from speaker.ha.topics import DeviceTopics
from speaker.mqtt.tls import tls_context

log = logging.getLogger(__name__)

MANUFACTURER = "room speaker"
MODEL = "room speaker"
STATES = ("idle", "listening", "thinking", "speaking", "error", "muted")
HA_STATE_MAX = 255
"""Home Assistant refuses a state longer than this: long texts go into an attribute."""


def node_id(settings: Settings) -> str:
    """``speaker_<site_id>`` with anything Home Assistant does not allow in an id replaced by '_'."""
    return "speaker_" + re.sub(r"[^a-zA-Z0-9_-]", "_", settings.mqtt.site_id)


def wake_options(settings: Settings) -> list[str]:
    """The wake word select's options: each configured model, plus 'all' when there are several."""
    names = [m.display_name for m in settings.wake.models]
    return [ALL_WAKE_WORDS, *names] if len(names) > 1 else names


def discovery_messages(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """(config topic, payload) for every entity."""
    topics = DeviceTopics.from_settings(settings.mqtt)
    node = node_id(settings)
    prefix = settings.home.discovery_prefix
    device = {
        "identifiers": [node],
        "name": settings.home.device_name or f"Speaker {settings.mqtt.site_id}",
        "model": MODEL,
        "manufacturer": MANUFACTURER,
        "sw_version": __version__,
    }
    common: dict[str, Any] = {
        "device": device,
        "availability": [{"topic": topics.availability, "payload_available": "online",
                          "payload_not_available": "offline"}],
        "origin": {"name": "room speaker", "sw_version": __version__},
        "has_entity_name": True,
    }
    # the full text (and its time) stays available as attributes of the sensor
    text_sensor = {"value_template": "{{ value_json.text[:" + str(HA_STATE_MAX) + "] }}"}
    entities: dict[tuple[str, str], dict[str, Any]] = {
        ("sensor", "state"): {
            "name": "State", "state_topic": topics.state, "device_class": "enum", "options": list(STATES),
            "icon": "mdi:account-voice",
        },
        ("switch", "mute"): {
            "name": "Mute", "command_topic": topics.cmd("mute"), "state_topic": topics.state,
            "value_template": "{{ 'ON' if value == 'muted' else 'OFF' }}",
            "payload_on": "true", "payload_off": "false", "state_on": "ON", "state_off": "OFF",
            "icon": "mdi:microphone-off",
        },
        ("number", "volume"): {
            "name": "Volume", "command_topic": topics.cmd("volume"), "state_topic": topics.volume,
            "min": 0, "max": 100, "step": 1, "mode": "slider", "unit_of_measurement": "%",
            "icon": "mdi:volume-high",
        },
        ("sensor", "last_transcript"): {
            "name": "Last transcript", "state_topic": topics.event("transcript"),
            "json_attributes_topic": topics.event("transcript"), **text_sensor, "icon": "mdi:text-recognition",
        },
        ("sensor", "last_reply"): {
            "name": "Last reply", "state_topic": topics.event("reply"),
            "json_attributes_topic": topics.event("reply"), **text_sensor, "icon": "mdi:message-reply-text",
        },
        ("sensor", "cost_today"): {
            "name": "Cost today", "state_topic": topics.cost_today, "value_template": "{{ value_json.usd }}",
            "unit_of_measurement": "USD", "state_class": "total_increasing", "suggested_display_precision": 3,
            "icon": "mdi:cash",
        },
        ("select", "wake_word"): {
            "name": "Wake word", "command_topic": topics.cmd("wake_word"), "state_topic": topics.wake_word,
            "options": wake_options(settings), "icon": "mdi:account-voice", "entity_category": "config",
        },
        ("button", "stop"): {
            "name": "Stop", "command_topic": topics.cmd("stop"), "payload_press": "stop", "icon": "mdi:stop",
        },
        # on while the Realtime service refuses us (bad key, no quota…): the message is an attribute
        ("binary_sensor", "problem"): {
            "name": "Problem", "device_class": "problem", "state_topic": topics.problem,
            "value_template": "{{ 'ON' if value_json.problem else 'OFF' }}",
            "json_attributes_topic": topics.problem, "entity_category": "diagnostic",
        },
    }
    out = []
    for (component, key), payload in entities.items():
        config = {**payload, "unique_id": f"{node}_{key}", **common}
        out.append((f"{prefix}/{component}/{node}/{key}/config", config))
    return out


def discovery_topics(settings: Settings) -> list[str]:
    return [topic for topic, _ in discovery_messages(settings)]


async def remove_discovery(settings: Settings, *, timeout_s: float = 10.0, settle_s: float = 1.0) -> list[str]:
    """Remove the speaker from Home Assistant and the broker: an empty retained message on every
    discovery topic of this speaker (the current entities and any left by older versions) and on its
    retained state topics. Returns the topics cleared. For the uninstall script; stop the daemon first
    (it would publish them again)."""
    mqtt = settings.mqtt
    topics = DeviceTopics.from_settings(mqtt)
    node = node_id(settings)
    prefix = settings.home.discovery_prefix
    clear: dict[str, None] = dict.fromkeys([*discovery_topics(settings), *topics.retained()])
    password = mqtt.password.reveal() if mqtt.password is not None else None
    client = aiomqtt.Client(
        mqtt.host, mqtt.port, username=mqtt.username, password=password,
        identifier=f"{mqtt.client_id or 'speaker-' + mqtt.site_id}-remove", tls_context=tls_context(settings.mqtt.tls),
        timeout=timeout_s,
    )
    async with asyncio.timeout(timeout_s + settle_s + 5), client:
        # retained configs of entities this version no longer has are found by listening briefly
        await client.subscribe(f"{prefix}/+/{node}/+/config")
        try:
            async with asyncio.timeout(settle_s):
                async for message in client.messages:
                    if message.payload:
                        clear[message.topic.value] = None
        except TimeoutError:
            pass
        for topic in clear:
            await client.publish(topic, b"", qos=1, retain=True)
    log.info("removed %d retained topic(s) of %s", len(clear), node)
    return list(clear)




def encode(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
