"""A sink that plays on one sink and copies to others (the demo plays on a device and records a WAV)."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self

from speaker.audio.ports import AudioSink


class TeeSink:
    """``primary`` is what is heard: its ``written_ms``/``played_ms`` drive barge-in truncation. Every
    write, clear and volume change is copied to ``copies``."""

    def __init__(self, primary: AudioSink, *copies: AudioSink) -> None:
        self.primary = primary
        self.copies = copies
        self.format = primary.format
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Self:
        for sink in (self.primary, *self.copies):
            await self._stack.enter_async_context(sink)
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stack.__aexit__(et, e, tb)

    def write(self, pcm: bytes) -> None:
        for sink in (self.primary, *self.copies):
            sink.write(pcm)

    def clear(self) -> None:
        for sink in (self.primary, *self.copies):
            sink.clear()

    async def drain(self) -> None:
        await asyncio.gather(*(sink.drain() for sink in (self.primary, *self.copies)))

    @property
    def written_ms(self) -> float:
        return self.primary.written_ms

    @property
    def played_ms(self) -> float:
        return self.primary.played_ms

    @property
    def volume(self) -> int:
        return self.primary.volume

    def set_volume(self, percent: int) -> None:
        for sink in (self.primary, *self.copies):
            sink.set_volume(percent)
