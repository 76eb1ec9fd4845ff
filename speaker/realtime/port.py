"""The Realtime port: what the runtime needs from an open session. ``RealtimeConnection`` is the real
adapter (mypy checks it fits, in client.py); tests plug in fakes with the same shape."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from speaker.realtime.events import RealtimeEvent


class RealtimeSession(Protocol):
    """One open Realtime session."""

    def send(self, event: Mapping[str, Any]) -> object:
        """Queue a client event; never blocks."""
        ...

    def append_audio(self, pcm24k: bytes) -> None:
        """Queue 24 kHz PCM16 mono as ``input_audio_buffer.append``."""
        ...

    def events(self) -> AsyncIterator[RealtimeEvent]:
        """Typed server events; raises RealtimeError when the session ends badly."""
        ...

    async def close(self) -> None:
        """Normal close (1000)."""
        ...
