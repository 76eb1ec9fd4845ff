"""The emulated default conversation: its items in order, their audio, and what they cost.

Token accounting follows the service's published rules (realtime-protocol.md §7): user audio is 1 token
per 100 ms, assistant audio 1 token per 50 ms, text roughly 1 token per 4 characters, and the whole
conversation is input again for every response. The part of a response's input that repeats the
previous response's context (same instructions and tools, same items, nothing truncated) is reported
as cached. The service caches in blocks and only beyond ~1024 tokens; the emulator reports every
repeated token, which keeps the numbers easy to check.
"""

from __future__ import annotations

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


@dataclass
class Conversation:
    items: list[Item] = field(default_factory=list)
    last_context: list[Segment] = field(default_factory=list)
    """The previous response's input plus its output: what the service would have cached."""

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

    def delete(self, item_id: str) -> bool:
        item = self.get(item_id)
        if item is None:
            return False
        self.items.remove(item)
        return True

    def context(self, head: str, items: list[Item] | None = None) -> list[Segment]:
        """A response's input: instructions and tools (``head``), then the items."""
        segments = [Segment(("head", head), text_tokens(head), 0)]
        for item in self.items if items is None else items:
            text, audio = item.tokens()
            segments.append(Segment(("item", item.id, item.version), text, audio))
        return segments


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


def public(item_data: dict[str, Any]) -> dict[str, Any]:
    """A copy safe to put in an event: audio bytes stripped, as the service does in added/done."""
    out = copy.deepcopy(item_data)
    for part in out.get("content") or []:
        part.pop("audio", None)
    return out
