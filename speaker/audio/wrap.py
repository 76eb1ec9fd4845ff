"""A sink that wraps another and passes everything through: the base of the sinks that change one
thing about playback (the echo canceller's reference tap, ducking, the bench's timing)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from speaker.audio.format import AudioFormat
from speaker.audio.ports import AudioSink


class SinkWrapper:
    """An :class:`~speaker.audio.ports.AudioSink` delegating every call to ``sink``; subclasses
    override what they change."""

    def __init__(self, sink: AudioSink) -> None:
        self.sink = sink
        self.format: AudioFormat = sink.format

    async def __aenter__(self) -> Self:
        await self.sink.__aenter__()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.sink.__aexit__(et, e, tb)

    def write(self, pcm: bytes) -> None:
        self.sink.write(pcm)

    def clear(self) -> None:
        self.sink.clear()

    async def drain(self) -> None:
        await self.sink.drain()

    @property
    def written_ms(self) -> float:
        return self.sink.written_ms

    @property
    def played_ms(self) -> float:
        return self.sink.played_ms

    @property
    def volume(self) -> int:
        return self.sink.volume

    def set_volume(self, percent: int) -> None:
        self.sink.set_volume(percent)
