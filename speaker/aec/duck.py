"""Ducking: the reply a little quieter while someone talks over it (the core's ``Duck`` action).

A sink wrapper, outermost: ``volume``/``set_volume`` stay the user's (what Home Assistant shows and
the device remembers); the inner sink plays at the ducked volume, so a :class:`ReferenceTap` inside it
hands the canceller exactly what was played."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from speaker.audio.format import AudioFormat
from speaker.audio.ports import AudioSink


class DuckingSink:
    def __init__(self, sink: AudioSink, duck_db: float) -> None:
        self.sink = sink
        self.format: AudioFormat = sink.format
        self._factor = 10 ** (-duck_db / 40)  # the volume curve is squared: percent scales by sqrt(gain)
        self._volume = sink.volume
        self.ducked = False

    async def __aenter__(self) -> Self:
        await self.sink.__aenter__()
        self._volume = self.sink.volume
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.sink.__aexit__(et, e, tb)

    def duck(self, on: bool) -> None:
        if on != self.ducked:
            self.ducked = on
            self._apply()

    def _apply(self) -> None:
        self.sink.set_volume(round(self._volume * self._factor) if self.ducked else self._volume)

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
        return self._volume

    def set_volume(self, percent: int) -> None:
        self.sink.set_volume(percent)  # checks the range
        self._volume = percent
        if self.ducked:
            self._apply()
