"""The reply being heard: which audio items it has, where each started in the playback, and what to
tell the server when it is cut short (``conversation.item.truncate`` at what was really heard)."""

from __future__ import annotations

from dataclasses import dataclass, field

from speaker.core import wire
from speaker.core.actions import SendEvent
from speaker.core.playback import PCM_BYTES_PER_MS


@dataclass
class ItemAudio:
    item_id: str
    start_ms: float
    """Playback position (written_ms) where this item's first audio went."""
    received_ms: float = 0.0


@dataclass
class Reply:
    response_id: str
    items: list[ItemAudio] = field(default_factory=list)
    done: bool = False
    audio: bool = False

    def add_audio(self, item_id: str, pcm: bytes, written_ms: float) -> None:
        """Audio of ``item_id`` about to be written at ``written_ms``. A response may carry several
        assistant items (2.x preambles): each keeps its own start."""
        if not self.items or self.items[-1].item_id != item_id:
            self.items.append(ItemAudio(item_id, start_ms=written_ms))
        self.items[-1].received_ms += len(pcm) / PCM_BYTES_PER_MS
        self.audio = True

    def truncations(self, played_ms: float) -> list[SendEvent]:
        """The truncate events for items heard only in part (none for one heard to its end). While the
        response is still streaming, the item being received is truncated even when all that arrived was
        heard: more of it is in flight, and the model must not remember saying it."""
        out = []
        for n, item in enumerate(self.items):
            heard = min(max(played_ms - item.start_ms, 0.0), item.received_ms)
            streaming = not self.done and n == len(self.items) - 1
            if heard < item.received_ms - 1 or streaming:
                out.append(SendEvent(wire.truncate(item.item_id, int(heard))))
        return out
