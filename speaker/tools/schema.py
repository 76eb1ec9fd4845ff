"""Checking tool arguments against their JSON schema with ``jsonschema``, in words the model can act on.

``validate_arguments`` is the ``ToolRegistry`` ``validate=`` hook. The schema is checked by the
``jsonschema`` validator of the draft it declares (``$schema``), else Draft 2020-12, else Draft 7
(older MCP servers write the draft-07 tuple form of ``items``); every keyword is honoured,
``$ref`` (into the schema; a remote reference means any value and is never fetched), ``anyOf``,
``oneOf``, ``allOf`` and ``not`` included. ``format`` is not asserted: the RFC formats ``jsonschema``
checks are stricter than what servers accept (pydantic takes a date-time without a time zone, which
RFC 3339 refuses), and a server checks its own formats. On top of JSON Schema, numbers must be
finite (``NaN`` is not JSON), and a pattern is never run over a string longer than its
``maxLength``. A schema that is not valid JSON Schema (a bridged server's mistake) is logged once
and its arguments are left to the tool to check.

Each problem names the argument path, what is allowed and what was sent, briefly
(``brightness must be between 0 and 254; you sent 300``); the best match
(``jsonschema.exceptions.best_match``) comes first.

``check_function_tool`` says whether a tool definition is acceptable as a Realtime function tool.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import referencing
from jsonschema import Draft7Validator, Draft202012Validator, validators
from jsonschema.exceptions import WEAK_MATCHES, ValidationError, best_match
from jsonschema.protocols import Validator
from referencing.jsonschema import DRAFT202012

from speaker.tools.base import ToolSpec

log = logging.getLogger(__name__)

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
JSON_TYPES = ("string", "integer", "number", "boolean", "object", "array", "null")
MAX_PROBLEMS = 8
_MAX_MESSAGE = 200
"""Longest fallback message (jsonschema's own text, which quotes the value) sent to the model."""
_NO_REMOTE: referencing.Registry[Any] = referencing.Registry(  # type: ignore[call-arg]  # attrs alias
    retrieve=lambda uri: referencing.Resource.from_contents({}, default_specification=DRAFT202012))
"""A reference out of the schema (``https://…``) means any value: validating never touches the network."""
_FIRST = ("type", "const", "enum")
"""When one of these fails for a value, the other keywords of that (sub)schema say nothing more."""


def validate_arguments(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[str]:
    """Problems with ``arguments`` (already parsed JSON) under ``schema``; empty when acceptable.

    Each problem names the argument, what is allowed and what was sent, e.g.
    ``brightness must be between 0 and 254; you sent 300``. Never raises."""
    errors: list[ValidationError] = []
    validator = _validator(schema)
    if validator is not None:
        try:
            errors = list(validator.iter_errors(arguments))
        except Exception as exc:  # e.g. an unresolvable $ref: the registry's execute() must not raise
            log.warning("cannot check tool arguments against their schema (%s); left to the tool", exc)
    told = {tuple(e.absolute_path) for e in errors}
    problems = [f"{_name(path)} must be a finite number; you sent {value}"
                for path, value in _non_finite(arguments, ()) if path not in told]
    problems.extend(_messages(errors))
    return list(dict.fromkeys(problems))[:MAX_PROBLEMS]


# ------------------------------------------------------------------------------- validators


def _validator(schema: Mapping[str, Any]) -> Validator | None:
    try:
        key = json.dumps(schema, allow_nan=False)  # key order kept: messages list properties in order
    except (TypeError, ValueError):
        log.warning("a tool's parameters are not plain JSON; its arguments are not checked here")
        return None
    return _compiled(key)


@functools.lru_cache(maxsize=256)
def _compiled(key: str) -> Validator | None:
    schema = json.loads(key)
    candidates = [_declared_draft(schema)]
    if "$schema" not in schema:
        candidates.append(Draft7Validator)
    for cls in candidates:
        if next(cls(cls.META_SCHEMA).iter_errors(schema), None) is None:
            return _guarded(cls)(schema, registry=_NO_REMOTE)
    first = best_match(candidates[0](candidates[0].META_SCHEMA).iter_errors(schema))
    log.warning("a tool's parameters are not valid JSON Schema (%s at %s); its arguments are not checked here",
                first.message if first else "?", _schema_where("parameters", first.absolute_path if first else ()))
    return None


def _declared_draft(schema: Mapping[str, Any]) -> type[Validator]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # an unknown $schema: the latest draft
        cls: type[Validator] = validators.validator_for(schema, default=Draft202012Validator)
    return cls


@functools.cache
def _guarded(cls: type[Validator]) -> type[Validator]:
    """``cls`` whose ``pattern`` skips strings over their ``maxLength`` (already a problem; a pattern
    over an arbitrarily long string may take arbitrarily long) and patterns Python cannot compile."""

    def pattern(validator: Validator, value: Any, instance: Any,
                schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        if not isinstance(instance, str) or not isinstance(value, str):
            return
        high = schema.get("maxLength")
        if isinstance(high, int) and len(instance) > high:
            return
        compiled = _compile(value)
        if compiled is not None and compiled.search(instance) is None:
            yield ValidationError(f"{instance!r} does not match {value!r}")

    extended: type[Validator] = validators.extend(cls, {"pattern": pattern})  # type: ignore[no-untyped-call]
    return extended


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


# ------------------------------------------------------------------------------- messages


def _messages(errors: list[ValidationError]) -> list[str]:
    """One or more lines per error, the best match first; redundant errors of a failed type left out."""
    first_at: dict[tuple[Any, ...], ValidationError] = {}
    for e in sorted((e for e in errors if e.validator in _FIRST), key=lambda e: _FIRST.index(str(e.validator))):
        first_at.setdefault(_site(e), e)  # type before const before enum: only the first that failed
    kept = [e for e in errors if first_at.get(_site(e), e) is e]
    best = best_match(kept, key=_relevance)  # may be an error inside an anyOf: then that anyOf comes first
    while best is not None and not any(best is k for k in kept):
        best = best.parent
    ordered = ([best] if best is not None else []) + [e for e in kept if e is not best]
    return [line for e in ordered for line in _explain(e)]


def _relevance(error: ValidationError) -> tuple[int, bool]:
    """jsonschema's idea of relevance (the shallowest error, an anyOf/oneOf last) without its
    tie-break on the property name, so equally relevant problems keep the schema's order."""
    return -len(error.path), error.validator not in WEAK_MATCHES


def _site(error: ValidationError) -> tuple[Any, ...]:
    """The value and the (sub)schema an error is about."""
    return (tuple(error.absolute_path), tuple(error.absolute_schema_path)[:-1])


def _explain(e: ValidationError) -> list[str]:
    name = _name(e.absolute_path)
    value: Any = e.instance
    rule: Any = e.validator_value
    schema: Mapping[str, Any] = e.schema if isinstance(e.schema, Mapping) else {}
    sent = _describe(value)
    match e.validator:
        case "type":
            wanted = [rule] if isinstance(rule, str) else list(rule)
            return [f"{name} must be {_or(_article(t) for t in wanted)}; you sent {sent}"]
        case "const":
            return [f"{name} must be {_show(rule)}; you sent {sent}"]
        case "enum":
            hint = ""
            if isinstance(value, str) and any(isinstance(o, str) and o.lower() == value.lower() for o in rule):
                hint = " (the values are case-sensitive)"
            return [f"{name} must be one of {', '.join(_show(o) for o in rule)}; you sent {sent}{hint}"]
        case "minimum" | "maximum":
            low, high = _bound(schema, "minimum"), _bound(schema, "maximum")
            if schema.get("exclusiveMinimum") is True or schema.get("exclusiveMaximum") is True:  # draft 4
                word = "greater than" if e.validator == "minimum" else "less than"
                return [f"{name} must be {word} {_num(rule)}; you sent {sent}"]
            if low is not None and high is not None:
                return [f"{name} must be between {_num(low)} and {_num(high)}; you sent {sent}"]
            word = "at least" if e.validator == "minimum" else "at most"
            return [f"{name} must be {word} {_num(rule)}; you sent {sent}"]
        case "exclusiveMinimum":
            return [f"{name} must be greater than {_num(rule)}; you sent {sent}"]
        case "exclusiveMaximum":
            return [f"{name} must be less than {_num(rule)}; you sent {sent}"]
        case "multipleOf":
            return [f"{name} must be a multiple of {_num(rule)}; you sent {sent}"]
        case "maxLength":
            return [f"{name} must be at most {rule} characters; you sent {len(value)} characters"]
        case "minLength":
            return [f"{name} must be at least {rule} characters; you sent {sent}"]
        case "pattern":
            return [f"{name} must match the pattern {rule}; you sent {sent}"]
        case "minItems":
            return [f"{name} must have at least {rule} items; you sent {len(value)}"]
        case "maxItems":
            return [f"{name} must have at most {rule} items; you sent {len(value)}"]
        case "uniqueItems":
            return [f"{name} must not repeat an item"]
        case "required":
            return [f"{_join(e.absolute_path, key)} is required but missing"
                    for key in rule if isinstance(value, Mapping) and key not in value]
        case "additionalProperties" if rule is False and isinstance(value, Mapping):
            props = schema.get("properties")
            declared = list(props) if isinstance(props, Mapping) else []
            patterns = [p for p in schema.get("patternProperties", {}) if _compile(p) is not None]
            extra = [k for k in value if k not in declared and not any(_compile(p).search(k)  # type: ignore[union-attr]
                                                                      for p in patterns)]
            where = f" in {name}" if e.absolute_path else ""
            takes = ", ".join(declared) or "no arguments"
            return [f"{_show(k)}{where} is not an accepted argument (accepted: {takes})" for k in extra]
        case "anyOf" | "oneOf":
            return [_explain_alternatives(e, name, sent)]
        case "not":
            return [f"{name} must not be {_brief(rule)}; you sent {sent}" if rule else f"{name} is not accepted"]
        case None:  # the schema `false`
            return [f"{name} is not accepted"]
    return [_clip(f"{name}: {e.message}")]


def _explain_alternatives(e: ValidationError, name: str, sent: str) -> str:
    if not e.context:  # oneOf matched more than once
        return f"{name} fits more than one of its allowed forms; make it fit exactly one; you sent {sent}"
    forms: dict[Any, list[ValidationError]] = {}
    for sub in e.context:
        forms.setdefault(sub.schema_path[0], []).append(sub)
    # a form whose type the value does not have is not the one meant: tell about the others
    wrong_kind = {i for i, errs in forms.items() if any(s.validator == "type" and not s.relative_path for s in errs)}
    plausible = [errs for i, errs in forms.items() if i not in wrong_kind]
    if not plausible:  # the value has none of the forms' types: list the forms
        alternatives: Any = e.validator_value
        forms_told = dict.fromkeys(_brief(alternatives[i]) for i in forms if isinstance(i, int))
        return f"{name} must be {_or(forms_told)}; you sent {sent}"
    if len(plausible) == 1:
        return "; ".join(_messages(plausible[0])[:2])
    parts = [f"({n}) {_messages(errs)[0]}" for n, errs in enumerate(plausible, 1)]
    return f"{name} fits none of its allowed forms: " + " ".join(parts)


def _non_finite(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], float]]:
    """Every NaN or infinity in the arguments (json.loads accepts them; JSON has none), with its path."""
    if _is_non_finite(value):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _non_finite(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _non_finite(item, (*path, i))


def _is_non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


# ------------------------------------------------------------------------------- helpers


def _name(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the arguments"


def _join(path: Sequence[str | int], key: str) -> str:
    return _name([*path, key])


def _bound(schema: Mapping[str, Any], key: str) -> float | None:
    value = schema.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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


def _brief(schema: Any) -> str:
    """A few words for what a subschema accepts (an ``anyOf`` form, a ``not``)."""
    if isinstance(schema, Mapping):
        if "const" in schema:
            return _show(schema["const"])
        if isinstance(schema.get("enum"), list):
            return "one of " + ", ".join(_show(o) for o in schema["enum"])
        kind = schema.get("type")
        if isinstance(kind, str):
            return _article(kind)
        if isinstance(kind, list) and kind:
            return _or(_article(str(k)) for k in kind)
    return "of another form"


def _show(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _article(kind: str) -> str:
    special = {"integer": "an integer", "object": "an object", "array": "an array", "null": "null"}
    return special.get(kind, f"a {kind}")


def _or(parts: Iterable[str]) -> str:
    items = list(parts)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE - 1] + "…"


def _schema_where(root: str, path: Iterable[str | int]) -> str:
    return root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


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
    """Problems in a JSON schema: what its draft's metaschema refuses (regular expressions included),
    plus two slips JSON Schema allows but a tool definition should not have: ``required`` naming an
    undeclared property, and ``enum`` values of another type than the property's."""
    cls = _declared_draft(schema)
    meta = cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
    problems = [_schema_problem(path, e) for e in meta.iter_errors(schema)]
    problems.extend(_lint(schema, path))
    return list(dict.fromkeys(problems))


def _schema_problem(root: str, e: ValidationError) -> str:
    where = _schema_where(root, e.absolute_path)
    last = e.absolute_path[-1] if e.absolute_path else None
    if last == "type":
        return f"{where} must be one of {', '.join(JSON_TYPES)} (or a list of them)"
    if e.validator == "format" and e.validator_value == "regex":
        return f"{where} is not a valid regular expression"
    leaf = best_match([e]) or e
    return _clip(f"{where}: {leaf.message}")


def _lint(schema: Mapping[str, Any], path: str) -> Iterator[str]:
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else []
    enum = schema.get("enum")
    if isinstance(enum, list) and kinds and all(k in JSON_TYPES for k in kinds) and \
            not all(Draft202012Validator({"type": kinds}).is_valid(v) for v in enum):
        yield f"{path}.enum has values that are not of type {kind}"
    properties = schema.get("properties", {} if "object" in kinds else None)
    if isinstance(properties, Mapping):
        for name, sub in properties.items():
            if isinstance(sub, Mapping):
                yield from _lint(sub, f"{path}.properties.{name}")
        required = schema.get("required", [])
        if isinstance(required, list) and any(r not in properties for r in required):
            yield f"{path}.required must list names of declared properties"
    items = schema.get("items")
    if isinstance(items, Mapping):
        yield from _lint(items, f"{path}.items")
