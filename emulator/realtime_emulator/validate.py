"""Strict conformance oracle for GA Realtime events, built on the ``openai`` package's own types.

The SDK types alone are too forgiving to catch a client (or emulator) drifting into a private dialect:

* client events are ``TypedDict``s, which ignore unknown keys, so a misspelled ``instrucions`` or a
  beta-era ``session.modalities`` passes. The adapter here forbids extra keys everywhere, nested too;
* pydantic's lax mode turns ``"5"`` into ``5`` and ``bytes`` into ``str``. Validation is strict;
* the SDK's unions carry their own ``PropertyInfo`` discriminator, which pydantic ignores, so a bad
  event is reported against every one of the 11/46 members. The adapters dispatch on ``type``;
* ``Iterable[...]`` fields (message content, ``response.input``, ``response.tools``) are validated
  lazily by pydantic, only when somebody iterates them. The validator iterates them;
* server events are ``extra="allow"`` models: the validator walks every model for keys the SDK does not
  declare, with a small allowlist (:data:`SERVER_UNDECLARED_ALLOWED`) for what the live service sends;
* base64 (appended audio) is not expressed in the types at all; it is checked here.

``openai`` is imported on first use only: the daemon never imports this module.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args, get_type_hints

if TYPE_CHECKING:
    from pydantic import BaseModel, TypeAdapter

__all__ = [
    "CLIENT_NULLABLE",
    "SERVER_UNDECLARED_ALLOWED",
    "Problem",
    "ValidationFailure",
    "client_event_types",
    "server_event_types",
    "validate_client_event",
    "validate_server_event",
    "validate_session_update",
]

SERVER_UNDECLARED_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    (event, f"session.{key}")
    for event in ("session.created", "session.updated")
    for key in ("id", "object", "expires_at")
)
"""(event type, field path) pairs the live service sends but the SDK does not declare: the SDK types
``session`` in ``session.created``/``session.updated`` as the *create request*, which has no ``id``,
``object`` ("realtime.session") or ``expires_at``. Nothing else may be undeclared."""

CLIENT_NULLABLE: frozenset[str] = frozenset({"audio.input.noise_reduction", "audio.input.transcription"})
"""Fields the SDK documents as "can be set to `null` to turn off" (and its pydantic models type as
Optional) while its ``*Param`` TypedDicts do not allow None. ``null`` is accepted there, at any depth
(``session.…`` in session.update)."""

_BRANCH_KEYS = ("type", "role")
"""Keys that select a member of a plain (non-discriminated) union: a member whose ``type`` or ``role``
does not match is not what the sender meant, so its errors are noise."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an event: where (dotted path), what kind (pydantic's error type, or one of
    ours: ``unknown_event_type``, ``invalid_base64``, ``undeclared_field``), and a short message."""

    path: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ValidationFailure(ValueError):
    """An event does not conform to the GA Realtime protocol as the openai SDK types describe it."""

    def __init__(self, event_type: str | None, problems: Sequence[Problem], *, side: str = "client") -> None:
        self.event_type = event_type
        self.problems = tuple(problems)
        self.side = side
        shown = "; ".join(str(p) for p in self.problems[:6])
        more = f" (+{len(self.problems) - 6} more)" if len(self.problems) > 6 else ""
        super().__init__(f"invalid {side} event {event_type!r}: {shown}{more}")


# --------------------------------------------------------------------------- adapters (built once)


@dataclass(frozen=True)
class _Adapters:
    client: TypeAdapter[Any]
    server: TypeAdapter[Any]
    client_types: frozenset[str]
    server_types: frozenset[str]


@functools.cache
def _adapters() -> _Adapters:
    # imported here: the daemon must not need openai (it is an optional, test/demo-only dependency)
    from typing import Annotated, Union

    from openai.types.realtime import (
        RealtimeClientEventParam,
        RealtimeServerEvent,
        ResponseCreateEventParam,
        ResponseCreateEventWithReferencesParam,
    )
    from pydantic import ConfigDict, Field, TypeAdapter

    # response.create as the SDK's own `connection.send` types it: `response.input` may hold item
    # references ({"type": "item_reference", "id": ...}) besides items
    client_members = tuple(
        ResponseCreateEventWithReferencesParam if m is ResponseCreateEventParam else m
        for m in get_args(RealtimeClientEventParam)
    )
    # RealtimeServerEvent is Annotated[Union[...], PropertyInfo(...)]: strip the SDK-only marker
    server_members = get_args(get_args(RealtimeServerEvent)[0])
    # forbid propagates into every nested TypedDict the adapter builds a schema for
    # the unions are built from runtime tuples, which no static checker can follow
    client_union: Any = Annotated[Union[client_members], Field(discriminator="type")]  # noqa: UP007
    server_union: Any = Annotated[Union[server_members], Field(discriminator="type")]  # noqa: UP007
    client: TypeAdapter[Any] = TypeAdapter(client_union, config=ConfigDict(extra="forbid"))
    server: TypeAdapter[Any] = TypeAdapter(server_union)
    return _Adapters(
        client=client,
        server=server,
        client_types=frozenset(_literal_type(get_type_hints(m, include_extras=True)["type"]) for m in client_members),
        server_types=frozenset(_literal_type(m.model_fields["type"].annotation) for m in server_members),
    )


def _literal_type(annotation: Any) -> str:
    """The wire name from ``Literal["x"]`` or ``Required[Literal["x"]]``."""
    while get_args(annotation) and not isinstance(get_args(annotation)[0], str):
        annotation = get_args(annotation)[0]
    return str(get_args(annotation)[0])


def client_event_types() -> frozenset[str]:
    """The 11 GA client event types the installed SDK knows."""
    return _adapters().client_types


def server_event_types() -> frozenset[str]:
    """The GA server event types the installed SDK knows (46 in openai 3.54)."""
    return _adapters().server_types


# --------------------------------------------------------------------------- public checks


def validate_client_event(ev: Mapping[str, Any]) -> None:
    """Raise :class:`ValidationFailure` unless ``ev`` is a valid GA client event: known ``type``,
    every field declared by the SDK (nested too), exact JSON types, base64 audio."""
    from pydantic import ValidationError

    kind = _event_type(ev, client_event_types(), "client")
    errors: list[dict[str, Any]] = []
    try:
        out = _adapters().client.validate_python(ev, strict=True)
    except ValidationError as exc:
        errors = [dict(e) for e in exc.errors(include_url=False)]
    else:
        errors = _drain_lazy(out, ())
    problems = _problems(ev, errors)
    if not problems:
        problems = _base64_problems(ev)
    if problems:
        raise ValidationFailure(kind, problems, side="client")


def validate_session_update(session: Mapping[str, Any]) -> None:
    """Validate the ``session`` object of a ``session.update`` (paths in errors start at ``session``)."""
    validate_client_event({"type": "session.update", "session": session})


def validate_server_event(ev: Mapping[str, Any]) -> None:
    """Raise :class:`ValidationFailure` unless ``ev`` is a valid GA server event: known ``type``, exact
    JSON types, and no field the SDK does not declare (apart from :data:`SERVER_UNDECLARED_ALLOWED`)."""
    from pydantic import ValidationError

    kind = _event_type(ev, server_event_types(), "server")
    try:
        model = _adapters().server.validate_python(ev, strict=True)
    except ValidationError as exc:
        errors = [dict(e) for e in exc.errors(include_url=False)]
        raise ValidationFailure(kind, _problems(ev, errors), side="server") from None
    extras = [p for p in _undeclared(model, "") if (kind, p) not in SERVER_UNDECLARED_ALLOWED]
    if extras:
        raise ValidationFailure(
            kind, [Problem(p, "undeclared_field", "not declared by the openai SDK") for p in extras], side="server")


# --------------------------------------------------------------------------- helpers


def _event_type(ev: Any, known: frozenset[str], side: str) -> str:
    if not isinstance(ev, Mapping):
        raise ValidationFailure(None, [Problem("", "not_an_object", "an event must be a JSON object")], side=side)
    kind = ev.get("type")
    if not isinstance(kind, str):
        raise ValidationFailure(None, [Problem("type", "missing", "every event needs a string 'type'")], side=side)
    if kind not in known:
        close = difflib.get_close_matches(kind, sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValidationFailure(kind, [Problem("type", "unknown_event_type",
                                               f"unknown GA {side} event type {kind!r}{hint}")], side=side)
    return kind


def _drain_lazy(value: Any, loc: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Iterate the lazy validators pydantic leaves for ``Iterable[...]`` fields; return their errors
    with locations made absolute."""
    from pydantic import ValidationError

    errors: list[dict[str, Any]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            errors += _drain_lazy(item, (*loc, key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            errors += _drain_lazy(item, (*loc, i))
    elif isinstance(value, Iterator):
        index = 0
        while True:
            try:
                item = next(value)
            except StopIteration:
                break
            except ValidationError as exc:
                errors += [{**e, "loc": (*loc, *e["loc"])} for e in exc.errors(include_url=False)]
            else:
                errors += _drain_lazy(item, (*loc, index))
            index += 1
    return errors


def _walk(ev: Any, loc: Sequence[Any]) -> tuple[list[str | int], list[int]]:
    """Split a pydantic location into the real path through the input and the positions of union
    member tags (names pydantic inserts, like ``RealtimeSessionCreateRequestParam``)."""
    path: list[str | int] = []
    tags: list[int] = []
    cursor = ev
    for i, part in enumerate(loc):
        if isinstance(cursor, Mapping) and part in cursor:
            path.append(part)
            cursor = cursor[part]
        elif isinstance(cursor, list) and isinstance(part, int) and 0 <= part < len(cursor):
            path.append(part)
            cursor = cursor[part]
        elif i == len(loc) - 1 and isinstance(cursor, Mapping):
            path.append(part)  # a missing key
        else:
            tags.append(i)
    return path, tags


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problems(ev: Mapping[str, Any], errors: list[dict[str, Any]]) -> list[Problem]:
    """Short, relevant problems from pydantic errors: drop union members the sender clearly did not
    mean (their ``type``/``role`` does not match), hide member tags, merge duplicates."""
    walked = [(e, tuple(e["loc"]), *_walk(ev, e["loc"])) for e in errors]
    # union positions (loc prefix) -> members seen there (prefix + member tag)
    members: dict[tuple[Any, ...], set[tuple[Any, ...]]] = {}
    for _e, loc, _path, tags in walked:
        for t in tags:
            members.setdefault(loc[:t], set()).add(loc[:t + 1])
    wrong_key = {loc for e, loc, _path, tags in walked
                 if tags and tags[-1] == len(loc) - 2 and loc[-1] in _BRANCH_KEYS and e["type"] == "literal_error"}
    dropped: set[tuple[Any, ...]] = set()  # members whose errors are noise
    keep_only: set[tuple[Any, ...]] = set()  # when no member fits: the type/role errors that say why
    for candidates in members.values():
        for key in _BRANCH_KEYS:
            bad = {m for m in candidates if (*m, key) in wrong_key}
            if bad == candidates:  # nobody got this key right: it is the mistake
                dropped |= candidates
                keep_only |= {(*m, key) for m in candidates}
                break
            dropped |= bad
            candidates = candidates - bad

    merged: dict[str, tuple[str, list[str]]] = {}
    for e, loc, path, tags in walked:
        if loc not in keep_only and any(loc[:t + 1] in dropped for t in tags):
            continue
        if e.get("input", ...) is None and _nullable(path):
            continue
        key = _dotted(path)
        message = _message(e)
        messages = merged.setdefault(key, (e["type"], []))[1]
        if message not in messages:
            messages.append(message)
    return [Problem(path, kind, " | ".join(msgs)) for path, (kind, msgs) in merged.items()]


def _nullable(path: Sequence[str | int]) -> bool:
    dotted = ".".join(str(p) for p in path)
    return any(dotted == n or dotted.endswith("." + n) for n in CLIENT_NULLABLE)


def _message(error: Mapping[str, Any]) -> str:
    match error["type"]:
        case "extra_forbidden":
            return "unknown field (not in the GA schema)"
        case "missing":
            return "required field missing"
        case _:
            return str(error["msg"])


def _base64_problems(ev: Mapping[str, Any]) -> list[Problem]:
    """Audio travels as base64 text; the types only say ``str``."""
    spots: list[tuple[str, Any]] = []
    if ev.get("type") == "input_audio_buffer.append":
        spots.append(("audio", ev.get("audio")))
    elif ev.get("type") == "conversation.item.create":
        content = ev.get("item", {}).get("content")
        for i, part in enumerate(content if isinstance(content, list) else []):
            if isinstance(part, Mapping) and part.get("type") == "input_audio" and "audio" in part:
                spots.append((f"item.content[{i}].audio", part["audio"]))
    out: list[Problem] = []
    for path, value in spots:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            out.append(Problem(path, "invalid_base64", f"not valid base64 ({exc})"))
    return out


def _undeclared(value: Any, path: str) -> list[str]:
    """Paths of keys pydantic kept as ``model_extra`` (the SDK models allow extras silently)."""
    from pydantic import BaseModel

    out: list[str] = []
    if isinstance(value, BaseModel):
        model: BaseModel = value
        out += [f"{path}.{k}" if path else k for k in (model.model_extra or {})]
        for name in type(model).model_fields:
            out += _undeclared(getattr(model, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            out += _undeclared(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            out += _undeclared(item, f"{path}.{key}")
    return out
