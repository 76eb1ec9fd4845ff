"""Tool packs: YAML files that declare the home's devices and the MQTT tools the model may call.

A pack has an ``inventory`` (rooms -> devices, each with an id, a name, a kind and the MQTT fields
that address it) and ``tools`` (name, description, parameters, and either an ``action`` to publish,
optionally confirmed by the device's state echo, or a ``state`` to read). Everything the model can
reach is named here: topic templates may only use declared parameters and fields of the chosen
inventory device, and that is checked when the pack is loaded, with ``file:line`` in every error.

``load_pack`` returns a ``ToolPack`` with parsed templates; ``speaker.tools.mqtt_tool`` runs them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from speaker.config.loader import validate_located
from speaker.config.yamlsource import KeyPath, Located, format_path, load_yaml
from speaker.errors import ConfigError
from speaker.mqtt.topics import MAX_TOPIC_VALUE_CHARS, inventory_value_problem
from speaker.tools.templates import (
    MISSING,
    PayloadTree,
    Placeholder,
    Template,
    compile_payload,
    tree_placeholders,
)

DeviceKind = Literal["light", "switch", "plug", "fan", "thermostat", "cover", "lock", "scene", "sensor",
                     "media_player", "other"]
BUILTIN_FIELDS = ("id", "name", "room", "kind")
"""Device fields every inventory device has; the pack's own addressing fields live under ``mqtt``."""
DEFAULT_MAX_LENGTH = MAX_TOPIC_VALUE_CHARS
"""maxLength given to free-text string parameters that declare none."""

_ID = r"^[a-z0-9][a-z0-9_]{0,63}$"
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

FieldValue = str | int | float | bool


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeviceModel(_Model):
    """One device in the inventory."""

    id: str = Field(pattern=_ID)
    """What the model sends to pick this device: lower case letters, digits and '_'."""
    name: str = Field(min_length=1, max_length=100)
    """How people call it ("Kitchen ceiling light"); shown to the model beside the id."""
    kind: DeviceKind
    description: str | None = Field(default=None, max_length=300)
    """Optional hint for the model ("the lamp next to the sofa")."""
    mqtt: dict[str, FieldValue] = Field(default_factory=dict)
    """Addressing fields used by the pack's templates, e.g. {friendly_name: Kitchen Ceiling}."""

    @field_validator("mqtt")
    @classmethod
    def _fields(cls, value: dict[str, FieldValue]) -> dict[str, FieldValue]:
        for key in value:
            if key in BUILTIN_FIELDS:
                raise ValueError(f"'{key}' is a built-in device field; choose another name for the mqtt field")
            if not _FIELD_NAME.match(key):
                raise ValueError(f"mqtt field name {key!r} must be letters, digits and '_'")
        return value


class ParamModel(_Model):
    """One tool parameter: a JSON-schema subset, plus ``type: device``."""

    type: Literal["string", "integer", "number", "boolean", "device"]
    description: str | None = Field(default=None, max_length=500)
    required: bool = False
    enum: list[str | int | float] | None = None
    minimum: float | None = None
    maximum: float | None = None
    minLength: int | None = Field(default=None, ge=0)  # JSON-schema spelling, on purpose
    maxLength: int | None = Field(default=None, ge=1)
    pattern: str | None = None
    kinds: list[DeviceKind] | None = None
    """For ``type: device``: the kinds of inventory device this parameter accepts (default: all)."""

    @model_validator(mode="after")
    def _consistent(self) -> ParamModel:
        numeric = self.type in ("integer", "number")
        if not numeric and (self.minimum is not None or self.maximum is not None):
            raise ValueError("minimum/maximum apply to integer and number parameters only")
        if self.type != "string" and (self.minLength is not None or self.maxLength is not None
                                      or self.pattern is not None):
            raise ValueError("minLength/maxLength/pattern apply to string parameters only")
        if self.type != "device" and self.kinds is not None:
            raise ValueError("kinds applies to 'type: device' parameters only")
        if self.type in ("device", "boolean") and self.enum is not None:
            raise ValueError(f"a {self.type} parameter takes no enum")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("minimum is greater than maximum")
        if self.minLength is not None and self.maxLength is not None and self.minLength > self.maxLength:
            raise ValueError("minLength is greater than maxLength")
        if self.enum is not None:
            if not self.enum:
                raise ValueError("enum must list at least one value")
            for option in self.enum:
                ok = (isinstance(option, str) if self.type == "string"
                      else isinstance(option, int) if self.type == "integer"
                      else isinstance(option, (int, float)))
                if not ok:
                    raise ValueError(f"enum value {option!r} is not of type {self.type}")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        return self


class PublishModel(_Model):
    """An MQTT publish: topic and payload templates."""

    topic: str = Field(min_length=1)
    payload: dict[str, Any] | list[Any] | str | int | float | bool = ""
    """A mapping (sent as JSON built from data) or a plain string/number (sent as text)."""
    qos: Literal[0, 1] = 1
    """1 (default): the command counts as sent once the broker acknowledged it."""
    retain: bool = False
    """Keep false for commands: a retained command is replayed to the device on every reconnect."""


class ConfirmModel(_Model):
    """Wait for the device's state echo after the command, so "done" is true."""

    match: dict[str, Any] | str | int | float | bool | None = None
    """What the echo must contain: a mapping (keys compared in the JSON state; others ignored) or a
    plain value compared with the whole payload. Omitted: any message on the state topic counts."""
    match_any: list[str] = Field(default_factory=list)
    """Rendered match values that accept whatever the device reports (e.g. TOGGLE)."""
    timeout_s: float = Field(default=3.0, gt=0, le=30)


class StateModel(_Model):
    """The device's state topic: read from it, or confirm a command by it."""

    topic: str = Field(min_length=1)
    read: Literal["retained"] | None = None
    """Answer from the last state seen on the topic (retained or live)."""
    confirm: ConfirmModel | None = None
    timeout_s: float = Field(default=2.0, gt=0, le=30)
    """For ``read``: how long to wait when no state has been seen yet."""
    report: list[str] | None = None
    """For ``read`` of a JSON state: only these keys are told to the model (default: all)."""
    request: PublishModel | None = None
    """For ``read``: published when no state is known yet, asking the device to report it."""

    @model_validator(mode="after")
    def _mode(self) -> StateModel:
        if (self.read is None) == (self.confirm is None):
            raise ValueError("give exactly one of 'read: retained' or 'confirm'")
        if self.confirm is not None and (self.report is not None or self.request is not None):
            raise ValueError("'report' and 'request' belong to 'read', not 'confirm'")
        return self


class ToolModel(_Model):
    """One tool the model may call."""

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str = Field(min_length=1, max_length=1024)
    parameters: dict[str, ParamModel] = Field(default_factory=dict)
    action: PublishModel | None = None
    state: StateModel | None = None
    confirm: bool = False
    """Risky (locks, garage doors, alarm panels): nothing is published until the user said yes aloud."""
    question: str | None = Field(default=None, min_length=1, max_length=200)
    """With ``confirm``: the question asked, word for word (default: the model asks in its own words)."""

    @field_validator("parameters")
    @classmethod
    def _names(cls, value: dict[str, ParamModel]) -> dict[str, ParamModel]:
        for name in value:
            if not _FIELD_NAME.match(name):
                raise ValueError(f"parameter name {name!r} must be letters, digits and '_' (at most 64)")
        return value

    @model_validator(mode="after")
    def _shape(self) -> ToolModel:
        reads = self.state is not None and self.state.read is not None
        if self.action is None and not reads:
            raise ValueError("give an 'action' (publish a command) or a 'state' with 'read: retained'")
        if self.action is not None and reads:
            raise ValueError("a tool either acts ('action', optionally with 'state.confirm') or reads "
                             "('state.read'); split it into two tools")
        if self.question is not None and not self.confirm:
            raise ValueError("'question' is asked before a confirmed call: give 'confirm: true' too")
        return self


class PackModel(_Model):
    """A tool pack file."""

    description: str | None = None
    inventory: dict[str, list[DeviceModel]] = Field(default_factory=dict)
    """Rooms (lower-case ids such as 'kitchen') -> their devices."""
    tools: list[ToolModel] = Field(default_factory=list)

    @field_validator("inventory")
    @classmethod
    def _rooms(cls, value: dict[str, list[DeviceModel]]) -> dict[str, list[DeviceModel]]:
        for room in value:
            if not re.match(_ID, room):
                raise ValueError(f"room {room!r} must be lower case letters, digits and '_'")
        return value


# ------------------------------------------------------------------------------- compiled form


@dataclass(frozen=True)
class InventoryDevice:
    """A device of a loaded pack."""

    id: str
    name: str
    kind: str
    room: str
    fields: Mapping[str, FieldValue]
    description: str | None = None
    path: KeyPath = ()

    def field(self, name: str) -> Any:
        """A built-in field or an mqtt field; MISSING when the device has none of that name."""
        if name in BUILTIN_FIELDS:
            return getattr(self, name)
        return self.fields.get(name, MISSING)

    def label(self) -> str:
        text = f"{self.id} = {self.name} ({self.room.replace('_', ' ')})"
        return f"{text}: {self.description}" if self.description else text


@dataclass(frozen=True)
class CompiledPublish:
    topic: Template
    payload: PayloadTree
    qos: int
    retain: bool


@dataclass(frozen=True)
class CompiledState:
    topic: Template
    read: bool
    timeout_s: float
    match: PayloadTree | None = None
    match_any: frozenset[str] = frozenset()
    report: tuple[str, ...] | None = None
    request: CompiledPublish | None = None


@dataclass(frozen=True)
class PackTool:
    """A tool of a loaded pack, with its templates parsed and its devices resolved."""

    name: str
    description: str
    params: Mapping[str, ParamModel]
    devices: Mapping[str, tuple[InventoryDevice, ...]]
    """For each device parameter: the inventory devices it may name."""
    action: CompiledPublish | None
    state: CompiledState | None
    where: str
    """file:line of the tool's name, for error messages that name two files."""
    confirm: bool = False
    question: str | None = None


@dataclass(frozen=True)
class ToolPack:
    path: Path
    description: str | None
    devices: Mapping[str, InventoryDevice]
    tools: tuple[PackTool, ...]
    skipped: tuple[tuple[str, str], ...] = field(default=())
    """Tools left out, with why (a device parameter with no matching device in the inventory)."""


# ------------------------------------------------------------------------------- loading


class _Problems:
    def __init__(self, located: Located) -> None:
        self._located = located
        self.lines: list[str] = []

    def add(self, path: KeyPath, message: str) -> None:
        where = self._located.where(path)
        prefix = f"{where[0]}:{where[1]}" if where else "<pack>"
        line = f"{prefix} {format_path(path)}: {message}"
        if line not in self.lines:
            self.lines.append(line)

    def where(self, path: KeyPath) -> str:
        hit = self._located.where(path)
        return f"{hit[0]}:{hit[1]}" if hit else "<pack>"


def load_pack(path: str | Path) -> ToolPack:
    """Load, validate and compile one tool pack. Raises ConfigError listing every problem as
    ``file:line key.path: message``."""
    located = load_yaml(path)
    if not isinstance(located.data, dict):
        raise ConfigError(f"{path}:1 a tool pack must be a mapping with 'inventory:' and 'tools:'")
    model = validate_located(PackModel, located, what="tool pack")
    return compile_pack(model, located, Path(path))


def compile_pack(model: PackModel, located: Located, path: Path) -> ToolPack:
    """Check what pydantic cannot (placeholders, device fields, unique ids) and parse templates."""
    problems = _Problems(located)
    devices: dict[str, InventoryDevice] = {}
    for room, members in model.inventory.items():
        for i, dev in enumerate(members):
            dev_path: KeyPath = ("inventory", room, i)
            if dev.id in devices:
                problems.add((*dev_path, "id"), f"device id {dev.id!r} is used twice in this pack")
                continue
            devices[dev.id] = InventoryDevice(dev.id, dev.name, dev.kind, room, dict(dev.mqtt), dev.description,
                                              dev_path)
    tools: list[PackTool] = []
    skipped: list[tuple[str, str]] = []
    names: set[str] = set()
    for t, tool in enumerate(model.tools):
        tool_path: KeyPath = ("tools", t)
        if tool.name in names:
            problems.add((*tool_path, "name"), f"tool name {tool.name!r} is used twice in this pack")
            continue
        names.add(tool.name)
        eligible = {
            name: tuple(d for d in devices.values() if param.kinds is None or d.kind in param.kinds)
            for name, param in tool.parameters.items() if param.type == "device"
        }
        compiled = _compile_tool(tool, tool_path, eligible, problems)
        empty = [name for name, found in eligible.items() if not found]
        if empty:
            kinds = tool.parameters[empty[0]].kinds
            skipped.append((tool.name, f"no inventory device of kind {', '.join(kinds or ['any'])} "
                                       f"for parameter {empty[0]!r}"))
            continue
        if compiled is not None:
            tools.append(PackTool(tool.name, tool.description, dict(tool.parameters), eligible, compiled[0],
                                  compiled[1], problems.where((*tool_path, "name")), tool.confirm,
                                  tool.question))
    if problems.lines:
        raise ConfigError("invalid tool pack configuration:\n  " + "\n  ".join(problems.lines))
    return ToolPack(path, model.description, devices, tuple(tools), tuple(skipped))


def _compile_tool(tool: ToolModel, tool_path: KeyPath, eligible: Mapping[str, tuple[InventoryDevice, ...]],
                  problems: _Problems) -> tuple[CompiledPublish | None, CompiledState | None] | None:
    before = len(problems.lines)
    checker = _PlaceholderCheck(tool, eligible, problems)
    action = None
    if tool.action is not None:
        action = _compile_publish(tool.action, (*tool_path, "action"), checker)
    state = None
    if tool.state is not None:
        s = tool.state
        s_path = (*tool_path, "state")
        topic = _parse(s.topic, (*s_path, "topic"), problems)
        if topic is not None:
            checker.check(topic.placeholders, (*s_path, "topic"), topic=True, devices_only=True)
        match: PayloadTree | None = None
        match_any: frozenset[str] = frozenset()
        timeout_s = s.timeout_s
        if s.confirm is not None:
            timeout_s = s.confirm.timeout_s
            match_any = frozenset(s.confirm.match_any)
            if s.confirm.match is not None:
                m_path = (*s_path, "confirm", "match")
                try:
                    match = compile_payload(s.confirm.match, "match")
                except ValueError as exc:
                    problems.add(m_path, str(exc))
                else:
                    checker.check(tuple(tree_placeholders(match)), m_path)
        request = None
        if s.request is not None:
            request = _compile_publish(s.request, (*s_path, "request"), checker)
        if topic is not None:
            state = CompiledState(topic, s.read is not None, timeout_s, match, match_any,
                                  tuple(s.report) if s.report is not None else None, request)
    if len(problems.lines) > before:
        return None
    return action, state


def _compile_publish(spec: PublishModel, path: KeyPath, checker: _PlaceholderCheck) -> CompiledPublish | None:
    topic = _parse(spec.topic, (*path, "topic"), checker.problems)
    if topic is not None:
        checker.check(topic.placeholders, (*path, "topic"), topic=True)
    try:
        payload = compile_payload(spec.payload)
    except ValueError as exc:
        checker.problems.add((*path, "payload"), str(exc))
        return None
    # a text payload cannot leave out a missing optional argument, so every argument it uses is required
    checker.check(tuple(tree_placeholders(payload)), (*path, "payload"),
                  must_be_required=not isinstance(payload, (dict, list)))
    if topic is None:
        return None
    return CompiledPublish(topic, payload, spec.qos, spec.retain)


def _parse(text: str, path: KeyPath, problems: _Problems) -> Template | None:
    try:
        return Template.parse(text)
    except ValueError as exc:
        problems.add(path, str(exc))
        return None


class _PlaceholderCheck:
    """Checks that placeholders name declared parameters and fields every eligible device has."""

    def __init__(self, tool: ToolModel, eligible: Mapping[str, tuple[InventoryDevice, ...]],
                 problems: _Problems) -> None:
        self.tool = tool
        self.eligible = eligible
        self.problems = problems

    def check(self, placeholders: tuple[Placeholder, ...], path: KeyPath, *, topic: bool = False,
              devices_only: bool = False, must_be_required: bool = False) -> None:
        params = self.tool.parameters
        for ph in placeholders:
            param = params.get(ph.name)
            if param is None:
                declared = ", ".join(params) or "none"
                self.problems.add(path, f"unknown placeholder {ph}: this tool's parameters are {declared} "
                                        "(a device field is written {device_parameter.field})")
                continue
            if ph.field is not None and param.type != "device":
                self.problems.add(path, f"{ph}: only 'type: device' parameters have fields")
                continue
            if devices_only and param.type != "device":
                self.problems.add(path, f"{ph}: a state topic may use only device parameters and their fields "
                                        "(state topics are subscribed in advance)")
                continue
            if (topic or must_be_required) and not param.required:
                where = "the topic" if topic else "a text payload"
                self.problems.add(path, f"{ph}: parameter {ph.name!r} is used in {where}, so it must be "
                                        "'required: true'")
            if ph.field is not None:
                self._check_field(ph, path, topic)

    def _check_field(self, ph: Placeholder, path: KeyPath, topic: bool) -> None:
        assert ph.field is not None
        for device in self.eligible.get(ph.name, ()):
            value = device.field(ph.field)
            if value is MISSING:
                self.problems.add(path, f"{ph}: device {device.id!r} ({self.problems.where(device.path)}) has no "
                                        f"mqtt field {ph.field!r}")
            elif topic:
                problem = inventory_value_problem(str(value)) if isinstance(value, (str, int)) and \
                    not isinstance(value, bool) else "it is not text"
                if problem is not None:
                    self.problems.add((*device.path, "mqtt", ph.field),
                                      f"cannot be used in a topic ({ph} in {format_path(path)}): {problem}")
