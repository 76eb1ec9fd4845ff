"""The emulated default conversation: its items in order, their audio, and what they cost.

Token accounting follows the service's published rules (realtime-protocol.md §7): user audio is 1 token
per 100 ms, assistant audio 1 token per 50 ms, text roughly 1 token per 4 characters, and the whole
conversation is input again for every response. The part of a response's input that repeats the
previous response's context (same instructions and tools, same items, nothing truncated) is reported
as cached. The service caches in blocks and only beyond ~1024 tokens; the emulator reports every
repeated token, which keeps the numbers easy to check.

Truncation (the session's ``truncation``) is modelled only for ``retention_ratio`` with
``token_limits.post_instructions``: when the items' tokens (everything after the instructions and tools)
exceed the limit, the oldest items are dropped from the model's input until they use at most
``retention_ratio`` of the limit (the SDK: "dropped until 80% of the maximum allowed tokens are
used"). This is the emulator's reading of the documented rule, not the service's code; ``"auto"`` and
``"disabled"`` leave the input whole.
"""

from __future__ import annotations

import base64
import copy
import json
import math
from dataclasses import dataclass, field
from typing import Any


def text_tokens(text: str | None) -> int:
    return 0 if not text else max(1, round(len(text) / 4))


def input_audio_tokens(ms: float) -> int:
    return math.ceil(ms / 100) if ms > 0 else 0


def output_audio_tokens(ms: float) -> int:
    return math.ceil(ms / 50) if ms > 0 else 0


@dataclass
class Item:
    """One conversation item. ``data`` is the item as events show it (never with audio bytes)."""

    id: str
    data: dict[str, Any]
    audio: bytes = b""
    audio_ms: float = 0.0
    version: int = 0
    """Bumped when the item changes (truncation), which ends cache reuse from that point."""

    @property
    def type(self) -> str:
        return str(self.data.get("type"))

    @property
    def role(self) -> str | None:
        role = self.data.get("role")
        return role if isinstance(role, str) else None

    def tokens(self) -> tuple[int, int]:
        """(text, audio) tokens this item costs as model input."""
        d = self.data
        if self.type == "function_call":
            return text_tokens(str(d.get("name", "")) + str(d.get("arguments", ""))), 0
        if self.type == "function_call_output":
            return text_tokens(str(d.get("output", ""))), 0
        if self.type != "message":
            return text_tokens(json.dumps(d)), 0
        text = audio = 0
        for part in d.get("content") or []:
            kind = part.get("type")
            if kind in ("input_text", "output_text", "text"):
                text += text_tokens(part.get("text"))
            elif kind == "input_audio":
                audio += input_audio_tokens(self.audio_ms)
            elif kind in ("output_audio", "audio"):
                audio += output_audio_tokens(self.audio_ms)
        return text, audio


@dataclass(frozen=True)
class Segment:
    """A piece of a response's input, for cache matching."""

    key: tuple[Any, ...]
    text: int
    audio: int


class ItemError(ValueError):
    """A conversation.item.* request the service refuses."""

    def __init__(self, message: str, param: str | None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.param = param
        self.code = code


@dataclass
class Conversation:
    items: list[Item] = field(default_factory=list)
    last_context: list[Segment] = field(default_factory=list)
    """The previous response's input plus its output: what the service would have cached."""
    dropped: set[str] = field(default_factory=set)
    """Items truncation took out of the model's input (they stay in the conversation's item list)."""

    def get(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    @property
    def last_id(self) -> str | None:
        return self.items[-1].id if self.items else None

    def add(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert after ``previous_item_id`` (``"root"``: at the start; None: at the end); return the
        id of the item now before it. KeyError if ``previous_item_id`` is unknown."""
        if previous_item_id is None:
            before = self.last_id
            self.items.append(item)
            return before
        if previous_item_id == "root":
            self.items.insert(0, item)
            return None
        index = next((n for n, i in enumerate(self.items) if i.id == previous_item_id), None)
        if index is None:
            raise KeyError(previous_item_id)
        self.items.insert(index + 1, item)
        return previous_item_id

    def delete(self, item_id: str) -> None:
        self.items.remove(self._existing(item_id, "item_id"))

    def _existing(self, item_id: str, param: str, code: str = "invalid_value") -> Item:
        item = self.get(item_id)
        if item is None:
            raise ItemError(f"Item with item_id '{item_id}' not found.", param, code)
        return item

    def create(self, data: dict[str, Any], previous_item_id: str | None, new_id: str) -> tuple[Item, str | None]:
        """``conversation.item.create``: the stored item and the id before it. ``new_id`` is used when
        the client gave none."""
        if data.get("id") and self.get(data["id"]) is not None:
            raise ItemError(f"Item with id '{data['id']}' already exists.", "item.id")
        content = data.get("content") or []
        if data.get("role") == "assistant" and any(p.get("type") in ("output_audio", "audio") for p in content):
            raise ItemError("Assistant audio items cannot be created by the client.", "item.content")
        call_id = data.get("call_id")
        if data.get("type") == "function_call_output" and not any(
                i.type == "function_call" and i.data.get("call_id") == call_id for i in self.items):
            raise ItemError(f"No function call found with call_id '{call_id}'.", "item.call_id")
        audio = b"".join(base64.b64decode(p["audio"]) for p in content
                         if p.get("type") == "input_audio" and p.get("audio"))
        item_id = data.get("id") or new_id
        # MCP items (an mcp_approval_response) have neither object nor status in the SDK's models
        extra = {} if str(data.get("type")).startswith("mcp") else {"object": "realtime.item", "status": "completed"}
        item = Item(item_id, {**data, "id": item_id, **extra}, audio=audio, audio_ms=len(audio) / 48)
        try:
            return item, self.add(item, previous_item_id)
        except KeyError:
            raise ItemError(f"previous_item_id '{previous_item_id}' not found.", "previous_item_id") from None

    def retrieve(self, item_id: str) -> dict[str, Any]:
        """``conversation.item.retrieve``: the item with its audio (base64), unlike added/done."""
        item = self._existing(item_id, "item_id")
        data = public(item.data)
        if item.audio:
            for part in data.get("content") or []:
                if part.get("type") in ("input_audio", "output_audio"):
                    part["audio"] = base64.b64encode(item.audio).decode("ascii")
        return data

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        """``conversation.item.truncate``: only assistant audio, never beyond the audio it has. The
        unheard audio and the whole transcript go, as the service does."""
        item = self._existing(item_id, "item_id", code="item_truncate_invalid_item_id")
        content = item.data.get("content") or []
        if item.role != "assistant" or content_index >= len(content) or \
                content[content_index].get("type") not in ("output_audio", "audio"):
            raise ItemError("Only assistant messages with audio content can be truncated.", "content_index")
        if audio_end_ms > item.audio_ms:
            raise ItemError(f"Audio content of {item.audio_ms:.0f}ms is already shorter than {audio_end_ms}ms",
                            "audio_end_ms")
        item.audio = item.audio[:int(audio_end_ms * 48) // 2 * 2]
        item.audio_ms = float(audio_end_ms)
        item.version += 1
        content[content_index]["transcript"] = ""

    def context(self, head: str, items: list[Item] | None = None, truncation: Any = None) -> list[Segment]:
        """A response's input: instructions and tools (``head``), then the items (the default
        conversation's after ``truncation``, see the module docstring)."""
        segments = [Segment(("head", head), text_tokens(head), 0)]
        if items is None:
            self._truncate(truncation)
            items = [i for i in self.items if i.id not in self.dropped]
        for item in items:
            text, audio = item.tokens()
            segments.append(Segment(("item", item.id, item.version), text, audio))
        return segments


    def _truncate(self, truncation: Any) -> None:
        if not isinstance(truncation, dict) or truncation.get("type") != "retention_ratio":
            return
        limit = (truncation.get("token_limits") or {}).get("post_instructions")
        ratio = float(truncation.get("retention_ratio", 1.0))
        kept = [i for i in self.items if i.id not in self.dropped]
        total = sum(sum(i.tokens()) for i in kept)
        if not isinstance(limit, int) or total <= limit:
            return
        target = ratio * limit  # "dropped until 80% of the maximum allowed tokens are used" (SDK)
        for item in kept[:-1]:  # the newest item (the turn being answered) always stays
            if total <= target:
                break
            self.dropped.add(item.id)
            total -= sum(item.tokens())


def cached(previous: list[Segment], current: list[Segment]) -> tuple[int, int]:
    """(text, audio) tokens of ``current`` that repeat the start of ``previous``."""
    text = audio = 0
    for old, new in zip(previous, current, strict=False):
        if old != new:
            break
        text += new.text
        audio += new.audio
    return text, audio


def usage_block(context: list[Segment], cache: tuple[int, int], out_text: int, out_audio: int) -> dict[str, Any]:
    """``response.usage`` as the service reports it; cached tokens are a subset of the input."""
    in_text = sum(s.text for s in context)
    in_audio = sum(s.audio for s in context)
    cached_text, cached_audio = cache
    return {
        "total_tokens": in_text + in_audio + out_text + out_audio,
        "input_tokens": in_text + in_audio,
        "output_tokens": out_text + out_audio,
        "input_token_details": {
            "text_tokens": in_text,
            "audio_tokens": in_audio,
            "image_tokens": 0,
            "cached_tokens": cached_text + cached_audio,
            "cached_tokens_details": {"text_tokens": cached_text, "audio_tokens": cached_audio, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
    }


def transcription_usage(model: str, seconds: float, transcript: str) -> dict[str, Any]:
    """Input transcription usage: tokens for the gpt-*-transcribe models, duration for the others."""
    if "transcribe" not in model:
        return {"type": "duration", "seconds": round(seconds, 3)}
    audio = math.ceil(seconds * 10)
    out = text_tokens(transcript)
    return {"type": "tokens", "input_tokens": audio, "output_tokens": out, "total_tokens": audio + out,
            "input_token_details": {"audio_tokens": audio, "text_tokens": 0}}


def public(item_data: dict[str, Any]) -> dict[str, Any]:
    """A copy safe to put in an event: audio bytes stripped, as the service does in added/done."""
    out = copy.deepcopy(item_data)
    for part in out.get("content") or []:
        part.pop("audio", None)
    return out
