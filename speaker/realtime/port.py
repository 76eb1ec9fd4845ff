"""The Realtime transport port: what the app needs from a connection. ``RealtimeConnection`` is the real
adapter; app tests can plug in a fake with the same shape."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from speaker.realtime.events import RealtimeEvent


class RealtimeTransport(Protocol):
    """One open Realtime session."""

    session_id: str | None

    def send(self, event: Mapping[str, Any]) -> str:
        """Queue a client event; never blocks; returns its event_id."""
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

    @property
    def audio_seconds_sent(self) -> float: ...

    @property
    def closed(self) -> bool: ...
