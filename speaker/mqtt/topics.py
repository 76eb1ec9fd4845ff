"""Topic rules in one place: what may be published to, what may be substituted into a topic, and
wildcard matching for subscriptions."""

from __future__ import annotations

import paho.mqtt.client as paho

MAX_TOPIC_BYTES = 65535
"""MQTT's own limit on a topic name (UTF-8 encoded)."""
MAX_TOPIC_VALUE_CHARS = 128
"""Longest value we substitute into a topic level from a tool argument."""


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def publish_topic_problem(topic: str) -> str | None:
    """Why ``topic`` cannot be published to, or None when it is a valid topic name."""
    if not topic:
        return "the topic is empty"
    if "#" in topic or "+" in topic:
        return "the topic contains an MQTT wildcard ('#' or '+')"
    if "\0" in topic:
        return "the topic contains a NUL character"
    if len(topic.encode("utf-8")) > MAX_TOPIC_BYTES:
        return "the topic is longer than MQTT allows"
    return None


def filter_problem(topic_filter: str) -> str | None:
    """Why ``topic_filter`` is not a valid subscription filter, or None."""
    if not topic_filter or "\0" in topic_filter:
        return "a topic filter must be non-empty and contain no NUL"
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return "'#' must be a whole level and the last one"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None


def topic_value_problem(value: str) -> str | None:
    """Why ``value`` (from a tool argument) must not be put into a topic, or None when it is safe.

    A safe value is one topic level: it cannot add levels ('/'), subscribe-style wildcards, reach a
    broker-internal '$' topic, or smuggle control characters."""
    if not value:
        return "it is empty"
    if len(value) > MAX_TOPIC_VALUE_CHARS:
        return f"it is {len(value)} characters long (at most {MAX_TOPIC_VALUE_CHARS})"
    for bad, why in (("/", "'/'"), ("#", "'#'"), ("+", "'+'"), ("\0", "a NUL character")):
        if bad in value:
            return f"it contains {why}"
    if _has_control(value):
        return "it contains a control character"
    if value.startswith("$"):
        return "it starts with '$'"
    return None


def inventory_value_problem(value: str) -> str | None:
    """Why a value written in a tool pack's inventory cannot go into a topic, or None.

    Inventory values are trusted (the user wrote them), so '/' is allowed: Zigbee2MQTT friendly
    names and Home Assistant topics use it. Wildcards, NUL and control characters are not."""
    if not value:
        return "it is empty"
    if "#" in value or "+" in value:
        return "it contains an MQTT wildcard ('#' or '+')"
    if "\0" in value or _has_control(value):
        return "it contains a control character"
    return None


def matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches the subscription filter (``+`` and ``#`` wildcards)."""
    return bool(paho.topic_matches_sub(topic_filter, topic))
