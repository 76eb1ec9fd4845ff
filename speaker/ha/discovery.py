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
from speaker.config.hardware import BOARD_NAMES
from speaker.config.schema import Settings
from speaker.ha.commands import ALL_WAKE_WORDS
from speaker.ha.topics import DeviceTopics
from speaker.mqtt.tls import tls_context

log = logging.getLogger(__name__)

MANUFACTURER = "room-speaker project"
MODEL = "Realtime voice speaker"
STATES = ("idle", "listening", "thinking", "speaking", "error", "muted", "announcing")
EVENT_TYPES = {
    # event/<kind> -> the event_type Home Assistant's event entity triggers on (added to the payload)
    "wake": "wake", "session_closed": "conversation_ended", "timer_finished": "timer_finished",
    "error": "error",
}
ANSWER_TYPES = ("answer", "no_answer")
HA_STATE_MAX = 255
"""Home Assistant refuses a state longer than this: long texts go into an attribute."""


def node_id(settings: Settings) -> str:
    """``speaker_<site_id>`` with anything Home Assistant does not allow in an id replaced by '_'."""
    return "speaker_" + re.sub(r"[^a-zA-Z0-9_-]", "_", settings.mqtt.site_id)


def wake_options(settings: Settings) -> list[str]:
    """The wake word select's options: each configured model, plus 'all' when there are several."""
    names = [m.display_name for m in settings.wake.models]
    return [ALL_WAKE_WORDS, *names] if len(names) > 1 else names


def area(settings: Settings) -> str | None:
    """The device's suggested area: ``home.area``, else the site id as words ('living_room' ->
    'Living room'); '' means none."""
    if settings.home.area is not None:
        return settings.home.area or None
    words = re.sub(r"[_\-.]+", " ", settings.mqtt.site_id).strip()
    return words[:1].upper() + words[1:] if words else None


def device_info(settings: Settings) -> dict[str, Any]:
    """Home Assistant's device registry entry (the same in every entity's config)."""
    device: dict[str, Any] = {
        "identifiers": [node_id(settings)],
        "name": settings.home.device_name or f"Speaker {settings.mqtt.site_id}",
        "model": MODEL,
        "manufacturer": MANUFACTURER,
        "sw_version": __version__,
    }
    board = BOARD_NAMES.get(settings.hardware.board)
    if board is not None:
        device["hw_version"] = board
    suggested = area(settings)
    if suggested:
        device["suggested_area"] = suggested
    if settings.home.configuration_url:
        device["configuration_url"] = settings.home.configuration_url
    return device


def discovery_messages(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """(config topic, payload) for every entity."""
    topics = DeviceTopics.from_settings(settings.mqtt)
    node = node_id(settings)
    prefix = settings.home.discovery_prefix
    device = device_info(settings)
    common: dict[str, Any] = {
        "device": device,
        "availability": [{"topic": topics.availability, "payload_available": "online",
                          "payload_not_available": "offline"}],
        "origin": {"name": "room speaker", "sw_version": __version__},
        "has_entity_name": True,
    }
    # the full text (and its time) stays available as attributes of the sensor
    text_sensor = {"value_template": "{{ value_json.text[:" + str(HA_STATE_MAX) + "] }}"}
    reply_topic = topics.last_reply if settings.home.retain_last_reply else topics.event("reply")
    entities: dict[tuple[str, str], dict[str, Any]] = {
        ("sensor", "state"): {
            "name": "State", "state_topic": topics.state, "device_class": "enum", "options": list(STATES),
            "icon": "mdi:account-voice",
        },
        ("switch", "mute"): {
            "name": "Mute", "command_topic": topics.cmd("mute"), "state_topic": topics.muted,
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
            "entity_category": "diagnostic",
        },
        ("sensor", "last_reply"): {
            "name": "Last reply", "state_topic": reply_topic, "json_attributes_topic": reply_topic, **text_sensor,
            "icon": "mdi:message-reply-text",
        },
        ("sensor", "cost_today"): {
            "name": "Cost today", "state_topic": topics.cost_today, "value_template": "{{ value_json.usd }}",
            "unit_of_measurement": "USD", "state_class": "total_increasing", "suggested_display_precision": 3,
            "icon": "mdi:cash", "entity_category": "diagnostic",
        },
        ("select", "wake_word"): {
            "name": "Wake word", "command_topic": topics.cmd("wake_word"), "state_topic": topics.wake_word,
            "options": wake_options(settings), "icon": "mdi:account-voice", "entity_category": "config",
        },
        ("button", "stop"): {
            "name": "Stop", "command_topic": topics.cmd("stop"), "payload_press": "stop", "icon": "mdi:stop",
        },
        **_speak_and_listen(topics),
        ("binary_sensor", "full_duplex"): {
            "name": "Full duplex", "state_topic": topics.duplex, "json_attributes_topic": topics.duplex,
            "value_template": "{{ 'ON' if value_json.full else 'OFF' }}", "payload_on": "ON", "payload_off": "OFF",
            "entity_category": "diagnostic", "icon": "mdi:account-voice",
        },
        # on while the Realtime service refuses us (bad key, no quota…): the message is an attribute
        ("binary_sensor", "problem"): {
            "name": "Problem", "device_class": "problem", "state_topic": topics.problem,
            "value_template": "{{ 'ON' if value_json.problem else 'OFF' }}",
            "json_attributes_topic": topics.problem, "entity_category": "diagnostic",
        },
    }
    entities.update(_budget_entities(settings, topics))
    if settings.rooms.enabled:
        entities.update(rooms_entities(settings, topics))
    if not transcribes(settings):
        del entities[("sensor", "last_transcript")]
    out = []
    for (component, key), payload in entities.items():
        config = {**payload, "unique_id": f"{node}_{key}", **common}
        out.append((f"{prefix}/{component}/{node}/{key}/config", config))
    return out


def _budget_entities(settings: Settings, topics: DeviceTopics) -> dict[tuple[str, str], dict[str, Any]]:
    """With a budget set (``cost.*``): the month's spend, whether a wake word is refused now, and what is
    left of the day's and the month's budget."""
    cost = settings.cost
    if cost.daily_usd is None and cost.monthly_usd is None and cost.session_usd is None:
        return {}
    money = {"unit_of_measurement": "USD", "suggested_display_precision": 3, "icon": "mdi:cash"}
    entities: dict[tuple[str, str], dict[str, Any]] = {
        ("sensor", "cost_month"): {
            "name": "Cost this month", "state_topic": topics.cost_today,
            "value_template": "{{ value_json.month_usd }}", "state_class": "total_increasing", **money,
        },
        ("binary_sensor", "budget_used_up"): {
            "name": "Budget used up", "state_topic": topics.budget, "json_attributes_topic": topics.budget,
            "value_template": "{{ 'ON' if value_json.exhausted else 'OFF' }}", "icon": "mdi:cash-remove",
        },
    }
    if settings.cost.daily_usd is not None:
        entities[("sensor", "budget_left_today")] = {
            "name": "Budget left today", "state_topic": topics.budget,
            "value_template": "{{ value_json.day_left_usd }}", "state_class": "measurement", **money,
        }
    if settings.cost.monthly_usd is not None:
        entities[("sensor", "budget_left_month")] = {
            "name": "Budget left this month", "state_topic": topics.budget,
            "value_template": "{{ value_json.month_left_usd }}", "state_class": "measurement", **money,
        }
    return entities


def rooms_entities(settings: Settings, topics: DeviceTopics) -> dict[tuple[str, str], dict[str, Any]]:
    """Multi-room arbitration: who answered each wake word this speaker heard (an event entity, from
    ``event/answered``) and the 'take part' switch (its state is the retained presence)."""
    presence = f"{topics.root}/rooms/presence"
    return {
        ("event", "answered"): {
            "name": "Answered", "state_topic": topics.event("answered"),
            "event_types": ["answered", "stood_down"],
            "value_template": ('{"event_type": "{{ \'answered\' if value_json.answering else \'stood_down\' }}", '
                               '"winner": "{{ value_json.winner }}", "takeover": {{ value_json.takeover | tojson }}}'),
            "icon": "mdi:account-voice",
        },
        ("switch", "rooms_take_part"): {
            "name": "Take part in multi-room", "command_topic": f"{topics.root}/rooms/take_part/set",
            "state_topic": presence, "value_template": "{{ 'ON' if value_json.take_part else 'OFF' }}",
            "payload_on": "ON", "payload_off": "OFF", "state_on": "ON", "state_off": "OFF",
            "icon": "mdi:home-group", "entity_category": "config",
        },
    }


def transcribes(settings: Settings) -> bool:
    """Whether the user's words are transcribed (then a 'Last transcript' entity exists)."""
    return settings.realtime.transcription is not None


def _speak_and_listen(topics: DeviceTopics) -> dict[tuple[str, str], dict[str, Any]]:
    """Issue 15's entities: speak (notify), ask (text, answered on an event), the events to trigger on
    and the timers. Each event entity reads ``event/<kind>``, whose JSON carries its ``event_type``."""
    timers = topics.timers
    waiting = "{% set waiting = value_json | rejectattr('ringing') | list %}"
    return {
        ("notify", "announce"): {
            "name": "Announce", "command_topic": topics.cmd("say"), "icon": "mdi:bullhorn",
        },
        ("text", "ask"): {
            "name": "Ask", "command_topic": topics.cmd("ask"), "max": HA_STATE_MAX, "mode": "text",
            "icon": "mdi:chat-question",
        },
        ("event", "answer"): {
            "name": "Answer", "state_topic": topics.event("answer"), "event_types": list(ANSWER_TYPES),
            "icon": "mdi:chat-processing",
        },
        ("event", "wake"): {
            "name": "Wake word", "state_topic": topics.event("wake"), "event_types": [EVENT_TYPES["wake"]],
            "icon": "mdi:account-voice",
        },
        ("event", "conversation"): {
            "name": "Conversation", "state_topic": topics.event("session_closed"),
            "event_types": [EVENT_TYPES["session_closed"]], "icon": "mdi:message-check",
        },
        ("event", "timer"): {
            "name": "Timer", "state_topic": topics.event("timer_finished"),
            "event_types": [EVENT_TYPES["timer_finished"]], "icon": "mdi:timer-alert",
        },
        ("event", "error"): {
            "name": "Error", "state_topic": topics.event("error"), "event_types": [EVENT_TYPES["error"]],
            "icon": "mdi:alert-circle", "entity_category": "diagnostic",
        },
        ("sensor", "timers"): {
            "name": "Timers", "state_topic": timers, "value_template": "{{ value_json | length }}",
            "json_attributes_topic": timers,
            "json_attributes_template": waiting + "{{ {'timers': value_json, 'next': waiting[0] if waiting "
                                        "else none, 'ringing': value_json | selectattr('ringing') "
                                        "| map(attribute='name') | list} | tojson }}",
            "state_class": "measurement", "icon": "mdi:timer-outline",
        },
        ("sensor", "next_timer"): {
            "name": "Next timer", "state_topic": timers, "device_class": "timestamp",
            "value_template": waiting + "{{ waiting[0].ends_at if waiting else None }}",
            "icon": "mdi:timer-sand",
        },
    }


def withdrawn_topics(settings: Settings) -> list[str]:
    """Config topics of entities this configuration leaves out (emptied so Home Assistant drops them)."""
    if transcribes(settings):
        return []
    return [f"{settings.home.discovery_prefix}/sensor/{node_id(settings)}/last_transcript/config"]


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
    clear: dict[str, None] = dict.fromkeys([*discovery_topics(settings), *topics.retained(),
                                            f"{topics.root}/rooms/presence"])
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
