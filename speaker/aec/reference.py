"""The far-end reference: what the speaker really played, handed to the canceller as it plays.

:class:`ReferenceTap` wraps the sink: it keeps a copy of what is written and releases it to the
canceller only as ``played_ms`` advances (after volume), so the reference is aligned with the sound
leaving the loudspeaker, not with the network's bursts. :class:`ReferenceBuffer` resamples it to the
microphone rate and hands the canceller 10 ms at a time, silence when nothing plays.
:class:`CancellingSource` is the frame path: an audio source whose frames come out echo-cancelled."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Self

import numpy as np

from speaker.aec.port import REFERENCE, EchoCanceller
from speaker.audio.format import MIC, AudioFormat
from speaker.audio.gain import apply_gain_bytes, volume_gain
from speaker.audio.ports import AudioSink, AudioSource
from speaker.audio.resample import StreamResampler

MAX_QUEUED_MS = 1000
"""Reference the canceller has not consumed yet beyond this is dropped (oldest first): the
microphone stalled, and audio that old has no echo left to cancel."""


class ReferenceBuffer:
    """Far-end audio (:data:`REFERENCE`) in, 16 kHz samples out in step with the microphone."""

    def __init__(self, *, rate: int = REFERENCE.rate, max_queued_ms: int = MAX_QUEUED_MS) -> None:
        self._resampler = StreamResampler(rate, MIC.rate)
        self._queue = np.zeros(0, dtype=np.int16)
        self._max = MIC.rate * max_queued_ms // 1000
        self.dropped = 0
        """Samples dropped because the microphone did not consume them in time."""

    def push(self, pcm: bytes) -> None:
        out = np.frombuffer(self._resampler.process(pcm), dtype="<i2")
        if out.size:
            self._queue = np.concatenate([self._queue, out])
            excess = self._queue.size - self._max
            if excess > 0:
                self.dropped += excess
                self._queue = self._queue[excess:]

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` samples of reference; silence where nothing was played."""
        head, self._queue = self._queue[:n], self._queue[n:]
        if head.size < n:
            head = np.concatenate([head, np.zeros(n - head.size, dtype=np.int16)])
        return head

    @property
    def queued(self) -> int:
        return int(self._queue.size)

    def reset(self) -> None:
        self._resampler.reset()
        self._queue = np.zeros(0, dtype=np.int16)


class ReferenceTap:
    """An :class:`~speaker.audio.ports.AudioSink` wrapper that feeds ``on_played`` with exactly the
    audio that has been played, after volume, as the inner sink's ``played_ms`` advances.

    Call :meth:`release` often (the :class:`CancellingSource` does, before each microphone frame);
    it compares ``played_ms`` with what it released before and hands over the difference. Audio
    cleared by a barge-in is never released."""

    def __init__(self, sink: AudioSink, on_played: Callable[[bytes], None]) -> None:
        self.sink = sink
        self.format: AudioFormat = sink.format
        self._on_played = on_played
        self._pending = bytearray()
        """Written but not yet released: starts at ``_released`` bytes into the stream."""
        self._released = 0
        self._base_ms = 0.0

    async def __aenter__(self) -> Self:
        await self.sink.__aenter__()
        self._base_ms = self.sink.played_ms
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.sink.__aexit__(et, e, tb)

    def write(self, pcm: bytes) -> None:
        self.sink.write(pcm)
        self._pending += pcm

    def clear(self) -> None:
        self.sink.clear()
        # what the sink dropped never plays: keep only what was played and not yet released
        self._pending = self._pending[: max(0, self._played_bytes() - self._released)]

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

    def release(self) -> int:
        """Hand what has played since the last call to ``on_played``; returns its length in bytes."""
        n = min(self._played_bytes() - self._released, len(self._pending))
        if n <= 0:
            return 0
        chunk = bytes(self._pending[:n])
        del self._pending[:n]
        self._released += n
        self._on_played(apply_gain_bytes(chunk, volume_gain(self.sink.volume)))
        return n

    def _played_bytes(self) -> int:
        return self.format.bytes_for_ms(self.sink.played_ms - self._base_ms)


class CancellingSource:
    """An :class:`~speaker.audio.ports.AudioSource` whose frames are echo-cancelled: before each
    frame of ``source`` it releases what ``tap`` has played since, then runs ``canceller`` on it."""

    format: AudioFormat = MIC

    def __init__(self, source: AudioSource, canceller: EchoCanceller, tap: ReferenceTap | None) -> None:
        if source.format != MIC:
            raise ValueError(f"echo cancellation needs {MIC.rate} Hz mono input, not {source.format}")
        self.source = source
        self.canceller = canceller
        self.tap = tap

    async def __aenter__(self) -> Self:
        await self.source.__aenter__()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.source.__aexit__(et, e, tb)

    def frames(self) -> AsyncIterator[bytes]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[bytes]:
        async for frame in self.source.frames():
            if self.tap is not None:
                self.tap.release()
            yield self.canceller.process(frame)
