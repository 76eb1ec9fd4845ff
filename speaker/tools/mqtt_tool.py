"""A tool from a tool pack, run against the MQTT port.

The model's arguments are checked against the tool's schema (again, even if the registry already
did), device ids become inventory devices, every argument substituted into a topic must be a single
safe topic level, and the payload is built as data. Only then is anything published. A command with
``state.confirm`` waits for the device's echo so the model can say "done" only when it is true.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Mapping
from typing import Any

from speaker.errors import ToolError
from speaker.mqtt.errors import MqttUnavailable
from speaker.mqtt.port import MqttPort
from speaker.mqtt.topics import publish_topic_problem, topic_value_problem
from speaker.tools.base import ToolSpec
from speaker.tools.packs import DEFAULT_MAX_LENGTH, CompiledPublish, InventoryDevice, PackTool, ParamModel
from speaker.tools.schema import validate_arguments
from speaker.tools.templates import (
    MISSING,
    Lookup,
    PayloadTree,
    Placeholder,
    Template,
    as_text,
    payload_bytes,
    render_tree,
    tree_placeholders,
)

log = logging.getLogger(__name__)

MAX_STATE_CHARS = 1500
RETAINED_GRACE_S = 0.3
"""How long a read waits for a retained state before asking the device (``state.request``)."""


class MqttTool:
    """One pack tool bound to an MQTT connection (implements the ``Tool`` protocol)."""

    def __init__(self, tool: PackTool, mqtt: MqttPort, *, site_id: str | None = None) -> None:
        self._tool = tool
        self._mqtt = mqtt
        self._by_id = {name: {d.id: d for d in devices} for name, devices in tool.devices.items()}
        self._spec = ToolSpec(tool.name, tool.description, parameters_schema(tool, site_id),
                              confirm=tool.confirm, question=tool.question)

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    @property
    def where(self) -> str:
        return self._tool.where

    def state_topics(self) -> list[str]:
        """Every state topic this tool can touch (one per eligible device), for subscribing in advance."""
        state = self._tool.state
        if state is None:
            return []
        names = sorted({ph.name for ph in state.topic.placeholders})
        topics = []
        for combo in itertools.product(*(self._tool.devices[n] for n in names)):
            chosen: dict[str, Any] = dict(zip(names, combo, strict=True))
            topic = state.topic.render_text(self._lookup(chosen))
            if isinstance(topic, str) and publish_topic_problem(topic) is None:
                topics.append(topic)
        return topics

    async def call(self, arguments: dict[str, Any]) -> Any:
        """Publish the command (or read the state) for validated ``arguments``."""
        problems = validate_arguments(self._spec.parameters, arguments)
        if problems:
            raise ToolError("The arguments were refused: " + "; ".join(problems) + ". Nothing was sent.")
        values = self._values(arguments)
        if self._tool.action is not None:
            return await self._act(self._tool.action, values)
        return await self._read(values)

    # ------------------------------------------------------------------ arguments and templates

    def _values(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, param in self._tool.params.items():
            if name not in arguments:
                continue
            value = arguments[name]
            if param.type == "device":
                device = self._by_id[name].get(value)
                if device is None:
                    raise ToolError(f"There is no device {value!r} for {name}; choose one of "
                                    f"{', '.join(self._by_id[name])}. Nothing was sent.")
                value = device
            elif param.type == "integer" and isinstance(value, float):
                value = int(value)
            values[name] = value
        return values

    def _lookup(self, values: Mapping[str, Any]) -> Lookup:
        def lookup(ph: Placeholder) -> Any:
            value = values.get(ph.name, MISSING)
            if isinstance(value, InventoryDevice):
                return _device_value(value, ph)
            return value
        return lookup

    def _topic(self, template: Template, values: Mapping[str, Any]) -> str:
        params = self._tool.params

        def convert(ph: Placeholder, value: Any) -> str:
            text = as_text(value)
            if params[ph.name].type != "device":
                problem = topic_value_problem(text)
                if problem is not None:
                    raise ToolError(f"The value of {ph.name} cannot be used in an MQTT topic: {problem}. "
                                    "Nothing was sent.")
            return text

        topic = template.render_text(self._lookup(values), convert)
        problem = publish_topic_problem(topic) if isinstance(topic, str) else "an argument it needs is missing"
        if problem is not None or not isinstance(topic, str):
            raise ToolError(f"The MQTT topic for this command cannot be built: {problem}. Nothing was sent.")
        return topic

    def _payload(self, spec: CompiledPublish, values: Mapping[str, Any]) -> tuple[Any, bytes]:
        data = render_tree(spec.payload, self._lookup(values))
        if data is MISSING:
            optional = sorted({ph.name for ph in _placeholders(spec.payload)})
            raise ToolError(f"Nothing to send: give at least one of {', '.join(optional)}. Nothing was sent.")
        return data, payload_bytes(data)

    def _subject(self, values: Mapping[str, Any]) -> dict[str, str]:
        for value in values.values():
            if isinstance(value, InventoryDevice):
                return {"device": value.id, "name": value.name}
        return {}

    # ------------------------------------------------------------------ commands

    async def _act(self, action: CompiledPublish, values: Mapping[str, Any]) -> dict[str, Any]:
        topic = self._topic(action.topic, values)
        data, payload = self._payload(action, values)
        subject = self._subject(values)
        state = self._tool.state
        if state is not None and self._topic(state.topic, values) == topic:
            # the broker would hand our own command back on the "state" topic: it proves nothing
            log.warning("%s: state topic %s is the command topic; the command cannot be confirmed",
                        self._tool.name, topic)
            state = None
        if state is None:
            await self._mqtt.publish(topic, payload, qos=action.qos, retain=action.retain)
            log.debug("%s: published %d bytes to %s", self._tool.name, len(payload), topic)
            note = ("The broker accepted the command; this device does not report back, so it is not confirmed."
                    if action.qos else "The command was sent; this device does not report back, so it is not "
                    "confirmed.")
            return {"ok": True, **subject, "sent": data, "confirmed": False, "note": note}

        state_topic = self._topic(state.topic, values)
        expected = render_tree(state.match, self._lookup(values)) if state.match is not None else None
        if expected is MISSING:
            expected = None
        match_any = state.match_any
        await self._mqtt.ensure_subscribed(state_topic)
        echo = self._mqtt.expect(state_topic, lambda p: state_matches(expected, p, match_any))
        sent_at = asyncio.get_running_loop().time()
        try:
            await self._mqtt.publish(topic, payload, qos=action.qos, retain=action.retain)
            log.debug("%s: published %d bytes to %s; waiting for %s", self._tool.name, len(payload), topic,
                      state_topic)
            try:
                async with asyncio.timeout(state.timeout_s):
                    message = await echo
            except TimeoutError:
                message = None
        finally:
            echo.cancel()
        if message is not None:
            return {"ok": True, **subject, "sent": data, "confirmed": True,
                    "state": state_view(message.payload, None)}
        latest = self._mqtt.last_message(state_topic)
        if latest is not None and latest.received >= sent_at:
            return {"ok": True, **subject, "sent": data, "confirmed": False,
                    "state": state_view(latest.payload, None),
                    "note": "The command was sent, but the device then reported a state that does not match it. "
                            "Tell the user it may not have worked."}
        return {"ok": True, **subject, "sent": data, "confirmed": False,
                "note": f"The command was sent, but the device did not confirm it within {state.timeout_s:g} s. "
                        "Tell the user it was sent but not confirmed."}

    # ------------------------------------------------------------------ reads

    async def _read(self, values: Mapping[str, Any]) -> dict[str, Any]:
        state = self._tool.state
        assert state is not None
        topic = self._topic(state.topic, values)
        subject = self._subject(values)
        what = subject.get("name", "The device")
        if not self._mqtt.connected:
            cached = self._mqtt.last_message(topic)
            if cached is None:
                raise MqttUnavailable("The home's MQTT broker is not reachable right now, so the state is unknown.")
            return {**subject, "state": state_view(cached.payload, state.report),
                    "note": "The MQTT broker is not reachable right now; this is the last state seen before."}
        await self._mqtt.ensure_subscribed(topic)
        future = self._mqtt.expect(topic)
        try:
            message = self._mqtt.last_message(topic)
            if message is None and state.request is not None:
                # a retained state arrives just after the broker acknowledged a fresh subscription:
                # give it a moment before bothering the device
                done, _ = await asyncio.wait({future}, timeout=min(RETAINED_GRACE_S, state.timeout_s / 2))
                if done:
                    message = future.result()
            if message is None:
                if state.request is not None:
                    _, request_payload = self._payload(state.request, values)
                    await self._mqtt.publish(self._topic(state.request.topic, values), request_payload,
                                             qos=state.request.qos, retain=state.request.retain)
                try:
                    async with asyncio.timeout(state.timeout_s):
                        message = await future
                except TimeoutError:
                    raise ToolError(f"{what} has not reported its state (nothing arrived within "
                                    f"{state.timeout_s:g} s); it may be offline.") from None
        finally:
            future.cancel()
        return {**subject, "state": state_view(message.payload, state.report)}


# ------------------------------------------------------------------------------- helpers


def _device_value(device: InventoryDevice, ph: Placeholder) -> Any:
    return device.id if ph.field is None else device.field(ph.field)


def _placeholders(tree: PayloadTree) -> list[Placeholder]:
    return list(tree_placeholders(tree))


def parameters_schema(tool: PackTool, site_id: str | None = None) -> dict[str, Any]:
    """The JSON schema the model sees: device parameters become enums of inventory ids."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in tool.params.items():
        properties[name] = _param_schema(param, tool.devices.get(name, ()), site_id)
        if param.required:
            required.append(name)
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _param_schema(param: ParamModel, devices: tuple[InventoryDevice, ...], site_id: str | None) -> dict[str, Any]:
    out: dict[str, Any]
    if param.type == "device":
        text = (param.description or "The device.").rstrip()
        text += " One of: " + "; ".join(d.label() for d in devices) + "."
        if site_id and any(d.room == site_id for d in devices):
            text += f" This speaker is in the {site_id.replace('_', ' ')}: if the user names no room, " \
                    "prefer a device there."
        return {"type": "string", "enum": [d.id for d in devices], "description": text}
    out = {"type": param.type}
    if param.description:
        out["description"] = param.description
    if param.enum is not None:
        out["enum"] = list(param.enum)
    for key in ("minimum", "maximum"):
        bound = getattr(param, key)
        if bound is not None:
            out[key] = int(bound) if param.type == "integer" or float(bound).is_integer() else bound
    if param.type == "string":
        if param.minLength is not None:
            out["minLength"] = param.minLength
        if param.maxLength is not None:
            out["maxLength"] = param.maxLength
        elif param.enum is None:
            out["maxLength"] = DEFAULT_MAX_LENGTH
        if param.pattern is not None:
            out["pattern"] = param.pattern
    return out


def state_matches(expected: Any, payload: bytes, match_any: frozenset[str] = frozenset()) -> bool:
    """Whether a state payload confirms a command: a mapping is a subset of the JSON state, a plain
    value equals the whole payload. Numbers compare as numbers, text without case."""
    if expected is None:
        return True
    if isinstance(expected, dict):
        try:
            actual = json.loads(payload)
        except ValueError:
            return False
        return isinstance(actual, dict) and _subset(expected, actual, match_any)
    if isinstance(expected, str) and expected in match_any:
        return True
    return _equal(expected, payload.decode("utf-8", errors="replace").strip())


def _subset(expected: Mapping[str, Any], actual: Mapping[str, Any], match_any: frozenset[str]) -> bool:
    for key, want in expected.items():
        if isinstance(want, str) and want in match_any:
            continue
        if key not in actual:
            return False
        got = actual[key]
        if isinstance(want, dict):
            if not isinstance(got, dict) or not _subset(want, got, match_any):
                return False
        elif not _equal(want, got):
            return False
    return True


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _equal(want: Any, got: Any) -> bool:
    a, b = _number(want), _number(got)
    if a is not None and b is not None:
        return abs(a - b) < 1e-6
    return as_text(want).strip().lower() == as_text(got).strip().lower()


def state_view(payload: bytes, report: tuple[str, ...] | None) -> Any:
    """A device state as the model should see it: JSON as data (only ``report`` keys if given),
    anything else as short text."""
    text = payload.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:300]
    if isinstance(data, dict):
        if report is not None:
            data = {k: data[k] for k in report if k in data}
        if len(json.dumps(data)) > MAX_STATE_CHARS:
            data = {k: v for k, v in data.items() if not isinstance(v, (dict, list))}
            while data and len(json.dumps(data)) > MAX_STATE_CHARS:
                data.popitem()
    elif len(json.dumps(data)) > MAX_STATE_CHARS:
        return text.strip()[:300]
    return data
