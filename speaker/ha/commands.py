"""Commands on ``<base>/<site>/cmd/<name>``: payloads parsed into typed commands, with an error message
a person can act on for anything malformed. Pure functions: no MQTT, no runner."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from speaker.device.controls import ALL_WAKE_WORDS
from speaker.mqtt.topics import topic_value_problem

__all__ = ["ALL_WAKE_WORDS", "Command", "CommandError", "parse_command"]

MAX_TEXT_CHARS = 2000
TRUE_WORDS = frozenset({"true", "on", "1", "yes", "mute", "muted"})
FALSE_WORDS = frozenset({"false", "off", "0", "no", "unmute", "unmuted"})


class CommandError(ValueError):
    """A command that cannot be carried out; the message is published on ``event/error``."""


@dataclass(frozen=True)
class Mute:
    muted: bool


@dataclass(frozen=True)
class Volume:
    level: int


@dataclass(frozen=True)
class StopAll:
    """Stop playback, a ringing timer and the conversation."""


@dataclass(frozen=True)
class Say:
    text: str
    preannounce: bool = True


@dataclass(frozen=True)
class Ask:
    instructions: str
    ask_id: str | None


@dataclass(frozen=True)
class SelectWake:
    name: str


Command = Mute | Volume | StopAll | Say | Ask | SelectWake
COMMANDS = ("mute", "unmute", "volume", "stop", "say", "ask", "start_conversation", "wake_word")


def parse_command(name: str, payload: bytes, *, wake_options: Sequence[str] = ()) -> Command:
    """The command ``name`` with ``payload``; raises CommandError with a clear message."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandError(f"{name}: the payload is not UTF-8 text") from None
    match name:
        case "mute":
            return Mute(True if not text else _boolean(name, text))
        case "unmute":
            return Mute(False)
        case "volume":
            return Volume(_volume(text))
        case "stop":
            return StopAll()
        case "say":
            return _say(text)
        case "ask":
            return _ask(name, text, always_id=True)
        case "start_conversation":
            return _ask(name, text, always_id=False)
        case "wake_word":
            choice = _json_or_text(name, text, keys=("name", "wake_word", "option"))
            if not isinstance(choice, str) or choice not in wake_options:
                raise CommandError(f"wake_word: {_show(choice)} is not one of {', '.join(wake_options)}")
            return SelectWake(choice)
    raise CommandError(f"unknown command {name!r}; the commands are {', '.join(COMMANDS)}")


def _json_or_text(name: str, text: str, *, keys: Sequence[str]) -> Any:
    """A JSON value (an object is searched for the first of ``keys``), or the text itself."""
    if not text.startswith(("{", "[", '"')):
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{name}: invalid JSON ({exc.msg} at character {exc.pos})") from None
    if isinstance(value, dict):
        for key in keys:
            if key in value:
                return value[key]
        raise CommandError(f"{name}: the JSON object needs one of the keys {', '.join(keys)}")
    return value


def _boolean(name: str, text: str) -> bool:
    value = _json_or_text(name, text, keys=("muted", "mute", "state"))
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS:
        return True
    if isinstance(value, str) and value.strip().lower() in FALSE_WORDS:
        return False
    raise CommandError(f"{name}: expected true or false (or on/off), got {_show(value)}")


def _volume(text: str) -> int:
    if not text:
        raise CommandError("volume: the payload is empty; send a number from 0 to 100")
    value = _json_or_text("volume", text, keys=("volume", "level"))
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise CommandError(f"volume: {_show(value)} is not a number; send 0 to 100") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CommandError(f"volume: {_show(value)} is not a number; send 0 to 100")
    if not 0 <= value <= 100:
        raise CommandError(f"volume: {value:g} is out of range; send 0 to 100")
    return round(value)  # Home Assistant's number entity may send "40.0"


def _text(name: str, value: Any, what: str = "text") -> str:
    if not isinstance(value, str) or not value.strip():
        raise CommandError(f"{name}: missing {what}; send plain text or JSON like {{\"{what}\": \"...\"}}")
    clean = value.strip()
    if len(clean) > MAX_TEXT_CHARS:
        raise CommandError(f"{name}: the {what} is {len(clean)} characters long; at most {MAX_TEXT_CHARS}")
    return clean


def _say(text: str) -> Say:
    if not text.startswith(("{", '"')):
        return Say(_text("say", text))
    obj = _object("say", text)
    if isinstance(obj, str):
        return Say(_text("say", obj))
    preannounce = obj.get("preannounce", True)
    if not isinstance(preannounce, bool):
        raise CommandError(f"say: preannounce must be true or false, got {_show(preannounce)}")
    return Say(_text("say", obj.get("text")), preannounce)


def _ask(name: str, text: str, *, always_id: bool) -> Ask:
    ask_id: Any = None
    if text.startswith(("{", '"')):
        obj = _object(name, text)
        if isinstance(obj, str):
            question: str | None = _text(name, obj)
            instructions = None
        else:
            question = _text(name, obj["text"]) if obj.get("text") is not None else None
            instructions = _text(name, obj["instructions"], "instructions") \
                if obj.get("instructions") is not None else None
            if question is None and instructions is None:
                raise CommandError(f"{name}: missing text; send JSON like {{\"text\": \"...\", \"id\": \"...\"}}")
            ask_id = obj.get("id")
    else:
        question, instructions = _text(name, text), None
    if ask_id is not None:
        if not isinstance(ask_id, str | int) or isinstance(ask_id, bool):
            raise CommandError(f"{name}: id must be a string, got {_show(ask_id)}")
        ask_id = str(ask_id)
        problem = topic_value_problem(ask_id)
        if problem is not None:
            raise CommandError(f"{name}: id {ask_id!r} cannot be a topic level: {problem}")
    elif always_id:
        ask_id = uuid.uuid4().hex[:12]
    parts = []
    if instructions is not None:
        parts.append(instructions)
    if question is not None:
        parts.append(f"Ask the user exactly this, then listen to the answer: {question}" if name == "ask"
                     else f"Say this to the user, then listen to the answer: {question}")
    return Ask("\n".join(parts), ask_id)


def _object(name: str, text: str) -> dict[str, Any] | str:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{name}: invalid JSON ({exc.msg} at character {exc.pos})") from None
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise CommandError(f"{name}: expected a JSON object or plain text, got {_show(value)}")
    return value


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "…"
