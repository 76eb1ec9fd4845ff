"""Checking tool arguments against a JSON-schema subset, in words the model can act on.

``validate_arguments`` is the ``ToolRegistry`` ``validate=`` hook. It understands ``type`` (string,
integer, number, boolean, object, array, null; a single type or a list), ``enum``, ``const``,
``minimum``/``maximum`` and their exclusive forms, ``minLength``/``maxLength``, ``pattern``,
``properties``/``required``/``additionalProperties``, ``items``/``minItems``/``maxItems``. Keywords
it does not know are ignored rather than refused: bridged MCP tools may use richer schemas, and
their servers check those themselves.

``check_function_tool`` says whether a tool definition is acceptable as a Realtime function tool.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from speaker.tools.base import ToolSpec

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
JSON_TYPES = ("string", "integer", "number", "boolean", "object", "array", "null")
MAX_PROBLEMS = 8


def validate_arguments(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[str]:
    """Problems with ``arguments`` (already parsed JSON) under ``schema``; empty when acceptable.

    Each problem names the argument, what is allowed and what was sent, e.g.
    ``brightness must be between 0 and 254; you sent 300``."""
    problems: list[str] = []
    _check(schema, arguments, "", problems)
    return problems[:MAX_PROBLEMS]


def _check(schema: Any, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(schema, Mapping):
        return
    name = path or "the arguments"
    types = schema.get("type")
    if types is not None:
        wanted = [types] if isinstance(types, str) else list(types) if isinstance(types, list) else []
        if wanted and not any(_is_type(value, t) for t in wanted):
            problems.append(f"{name} must be {_or(_article(t) for t in wanted)}; you sent {_describe(value)}")
            return
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{name} must be a finite number; you sent {value}")
        return
    if "const" in schema and not _same(value, schema["const"]):
        problems.append(f"{name} must be {_show(schema['const'])}; you sent {_describe(value)}")
        return
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and not any(_same(value, option) for option in enum):
        hint = ""
        if isinstance(value, str) and any(isinstance(o, str) and o.lower() == value.lower() for o in enum):
            hint = " (the values are case-sensitive)"
        problems.append(f"{name} must be one of {', '.join(_show(o) for o in enum)}; "
                        f"you sent {_describe(value)}{hint}")
        return
    if _is_number(value):
        _check_number(schema, value, name, problems)
    elif isinstance(value, str):
        _check_string(schema, value, name, problems)
    elif isinstance(value, Mapping):
        _check_object(schema, value, path, problems)
    elif isinstance(value, list):
        _check_array(schema, value, path, problems)


def _check_number(schema: Mapping[str, Any], value: float, name: str, problems: list[str]) -> None:
    low, high = _bound(schema, "minimum"), _bound(schema, "maximum")
    xlow, xhigh = _bound(schema, "exclusiveMinimum"), _bound(schema, "exclusiveMaximum")
    too_low = low is not None and value < low
    too_high = high is not None and value > high
    if too_low or too_high:
        if low is not None and high is not None:
            problems.append(f"{name} must be between {_num(low)} and {_num(high)}; you sent {_num(value)}")
        elif low is not None:
            problems.append(f"{name} must be at least {_num(low)}; you sent {_num(value)}")
        elif high is not None:
            problems.append(f"{name} must be at most {_num(high)}; you sent {_num(value)}")
    if xlow is not None and value <= xlow:
        problems.append(f"{name} must be greater than {_num(xlow)}; you sent {_num(value)}")
    if xhigh is not None and value >= xhigh:
        problems.append(f"{name} must be less than {_num(xhigh)}; you sent {_num(value)}")


def _bound(schema: Mapping[str, Any], key: str) -> float | None:
    value = schema.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _check_string(schema: Mapping[str, Any], value: str, name: str, problems: list[str]) -> None:
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(high, int) and len(value) > high:
        problems.append(f"{name} must be at most {high} characters; you sent {len(value)} characters")
        return  # never run a pattern over an over-long string
    if isinstance(low, int) and len(value) < low:
        problems.append(f"{name} must be at least {low} characters; you sent {_describe(value)}")
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        compiled = _compile(pattern)
        if compiled is not None and compiled.search(value) is None:
            problems.append(f"{name} must match the pattern {pattern}; you sent {_describe(value)}")


def _check_object(schema: Mapping[str, Any], value: Mapping[str, Any], path: str, problems: list[str]) -> None:
    properties = schema.get("properties")
    props: Mapping[str, Any] = properties if isinstance(properties, Mapping) else {}
    required = schema.get("required")
    if isinstance(required, list):
        for key in required:
            if key not in value:
                problems.append(f"{_join(path, key)} is required but missing")
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in props:
            _check(props[key], item, _join(path, key), problems)
        elif extra is False:
            takes = ", ".join(props) or "no arguments"
            where = f" in {path}" if path else ""
            problems.append(f"{_show(key)}{where} is not an accepted argument (accepted: {takes})")
        elif isinstance(extra, Mapping):
            _check(extra, item, _join(path, key), problems)


def _check_array(schema: Mapping[str, Any], value: list[Any], path: str, problems: list[str]) -> None:
    name = path or "the arguments"
    low, high = schema.get("minItems"), schema.get("maxItems")
    if isinstance(low, int) and len(value) < low:
        problems.append(f"{name} must have at least {low} items; you sent {len(value)}")
    if isinstance(high, int) and len(value) > high:
        problems.append(f"{name} must have at most {high} items; you sent {len(value)}")
        return
    items = schema.get("items")
    if isinstance(items, Mapping):
        for i, item in enumerate(value):
            _check(items, item, f"{name}[{i}]", problems)


# ------------------------------------------------------------------------------- helpers


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_type(value: Any, kind: str) -> bool:
    match kind:
        case "string":
            return isinstance(value, str)
        case "integer":
            return (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, float) and value.is_integer())
        case "number":
            return _is_number(value)
        case "boolean":
            return isinstance(value, bool)
        case "object":
            return isinstance(value, Mapping)
        case "array":
            return isinstance(value, list)
        case "null":
            return value is None
    return True  # an unknown type name: not ours to refuse


def _same(value: Any, option: Any) -> bool:
    """JSON equality: True is not 1, but 1 equals 1.0."""
    if isinstance(value, bool) or isinstance(option, bool):
        return isinstance(value, bool) and isinstance(option, bool) and value is option
    return bool(value == option) and (_is_number(value) == _is_number(option))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _describe(value: Any) -> str:
    if isinstance(value, str):
        if len(value) > 40:
            return f"a string of {len(value)} characters"
        return _show(value)
    if isinstance(value, (Mapping, list)):
        return _json_type(value)
    if value is None:
        return "null"
    return f"{_show(value)} ({_json_type(value)})" if not _is_number(value) else _num(value)


def _show(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _num(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _article(kind: str) -> str:
    special = {"integer": "an integer", "object": "an object", "array": "an array", "null": "null"}
    return special.get(kind, f"a {kind}")


def _or(parts: Iterable[str]) -> str:
    items = list(parts)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


# ------------------------------------------------------------------------------- tool definitions


def check_function_tool(spec: ToolSpec) -> list[str]:
    """Problems that would make the Realtime API refuse ``spec`` as a function tool (empty: fine)."""
    problems: list[str] = []
    if not TOOL_NAME.match(spec.name):
        problems.append(f"tool name {spec.name!r} must be 1-64 letters, digits, '_' or '-'")
    if not spec.description.strip():
        problems.append(f"tool {spec.name!r} needs a description (the model chooses tools by it)")
    params = spec.parameters
    if not isinstance(params, Mapping) or params.get("type") != "object":
        problems.append(f"tool {spec.name!r}: parameters must be a JSON schema of type 'object'")
        return problems
    try:
        json.dumps(params, allow_nan=False)
    except (TypeError, ValueError) as exc:
        problems.append(f"tool {spec.name!r}: parameters are not plain JSON ({exc})")
        return problems
    problems.extend(f"tool {spec.name!r}: {p}" for p in check_schema(params))
    return problems


def check_schema(schema: Mapping[str, Any], path: str = "parameters") -> list[str]:
    """Structural problems in a JSON schema built from the subset this module understands."""
    problems: list[str] = []
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else []
    if kind is not None and (not kinds or any(k not in JSON_TYPES for k in kinds)):
        problems.append(f"{path}.type must be one of {', '.join(JSON_TYPES)}")
    enum = schema.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        problems.append(f"{path}.enum must be a non-empty list")
    elif isinstance(enum, list) and kinds and not all(any(_is_type(v, k) for k in kinds) for v in enum):
        problems.append(f"{path}.enum has values that are not of type {kind}")
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in schema and not _is_number(schema[key]):
            problems.append(f"{path}.{key} must be a number")
    for key in ("minLength", "maxLength", "minItems", "maxItems"):
        if key in schema and not (isinstance(schema[key], int) and schema[key] >= 0):
            problems.append(f"{path}.{key} must be a non-negative integer")
    if "pattern" in schema and (not isinstance(schema["pattern"], str) or _compile(schema["pattern"]) is None):
        problems.append(f"{path}.pattern is not a valid regular expression")
    if "object" in kinds:
        properties = schema.get("properties", {})
        if not isinstance(properties, Mapping):
            problems.append(f"{path}.properties must be a mapping")
            properties = {}
        for name, sub in properties.items():
            if not isinstance(sub, Mapping):
                problems.append(f"{path}.properties.{name} must be a schema object")
            else:
                problems.extend(check_schema(sub, f"{path}.properties.{name}"))
        required = schema.get("required", [])
        if not isinstance(required, list) or any(r not in properties for r in required):
            problems.append(f"{path}.required must list names of declared properties")
    if "array" in kinds and isinstance(schema.get("items"), Mapping):
        problems.extend(check_schema(schema["items"], f"{path}.items"))
    return problems
