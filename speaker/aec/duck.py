"""Ducking: the reply a little quieter while someone talks over it (the core's ``Duck`` action).

A sink wrapper, outermost: ``volume``/``set_volume`` stay the user's (what Home Assistant shows and
the device remembers); the inner sink plays at the ducked volume, so a :class:`ReferenceTap` inside it
hands the canceller exactly what was played."""

from __future__ import annotations

from typing import Self

from speaker.audio.ports import AudioSink
from speaker.audio.wrap import SinkWrapper


class DuckingSink(SinkWrapper):
    def __init__(self, sink: AudioSink, duck_db: float) -> None:
        super().__init__(sink)
        self._factor = 10 ** (-duck_db / 40)  # the volume curve is squared: percent scales by sqrt(gain)
        self._volume = sink.volume
        self.ducked = False

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self._volume = self.sink.volume
        return self

    def duck(self, on: bool) -> None:
        if on != self.ducked:
            self.ducked = on
            self._apply()

    def _apply(self) -> None:
        self.sink.set_volume(round(self._volume * self._factor) if self.ducked else self._volume)

    @property
    def volume(self) -> int:
        return self._volume

    def set_volume(self, percent: int) -> None:
        self.sink.set_volume(percent)  # checks the range
        self._volume = percent
        if self.ducked:
            self._apply()
