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

from speaker.aec.port import FRAME_MS, FRAME_SAMPLES, REFERENCE, EchoCanceller
from speaker.audio.format import MIC, AudioFormat
from speaker.audio.gain import apply_gain_bytes, volume_gain
from speaker.audio.ports import AudioSink, AudioSource
from speaker.audio.resample import Quality, StreamResampler
from speaker.audio.wrap import SinkWrapper

MAX_QUEUED_MS = 1000
"""Reference the canceller has not consumed yet beyond this is dropped (oldest first): the
microphone stalled, and audio that old has no echo left to cancel."""
RESAMPLER_QUALITY: Quality = "QQ"
"""soxr's quick quality: its stream holds back under a sample (HQ holds back ~37 ms, which made the
reference arrive after the echo of a 20 ms room); measured ERLE is no lower than with HQ."""
CUSHION_MS = 10
"""The reference is paired with the microphone this much later than it played (the engine sees an
echo path this much shorter, still causal: device buffers alone are longer)."""


class ReferenceBuffer:
    """Far-end audio (:data:`REFERENCE`) in, 16 kHz samples out in step with the microphone.

    The queue is kept at the far end's rate and the resampler is fed every frame (silence when
    nothing plays), so the 16 kHz reference is one continuous stream with a constant filter delay:
    the pairing of reference and microphone never shifts because of the resampler."""

    def __init__(self, *, rate: int = REFERENCE.rate, max_queued_ms: int = MAX_QUEUED_MS,
                 cushion_ms: int = CUSHION_MS) -> None:
        if rate * FRAME_MS % 1000:
            raise ValueError(f"a reference rate of {rate} Hz has no whole number of samples in {FRAME_MS} ms")
        self._in_frame = rate * FRAME_MS // 1000
        self._resampler = StreamResampler(rate, MIC.rate, quality=RESAMPLER_QUALITY)
        self._queue = np.zeros(0, dtype=np.int16)
        self._out = np.zeros(0, dtype=np.int16)
        self._max = rate * max_queued_ms // 1000
        self.cushion_ms = cushion_ms
        self._cushion = rate * cushion_ms // 1000
        self._running = False
        self._filled = 0
        self.dropped = 0
        """Far-end samples dropped because the microphone did not consume them in time."""

    def push(self, pcm: bytes) -> None:
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
        if samples.size:
            self._queue = np.concatenate([self._queue, samples])
            excess = self._queue.size - self._max
            if excess > 0:
                self.dropped += excess
                self._queue = self._queue[excess:]

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` (one frame: 160) samples of reference; silence where nothing played."""
        need = n * self._in_frame // FRAME_SAMPLES
        if not self._running and self._queue.size:
            # playback starts: pair it with the microphone a cushion later, so that reference
            # arriving in bursts never runs dry mid-reply (a dry spell would shift the pairing and
            # the engine would have to re-converge)
            self._running = True
            self._queue = np.concatenate([np.zeros(self._cushion, dtype=np.int16), self._queue])
        far, self._queue = self._queue[:need], self._queue[need:]
        if far.size == 0:
            self._running = False
        if far.size < need:
            far = np.concatenate([far, np.zeros(need - far.size, dtype=np.int16)])
        self._out = np.concatenate([self._out, self._resampler.process_array(far)])
        head, self._out = self._out[:n], self._out[n:]
        if head.size < n:  # only while the resampler's filter fills, at the very start
            self._filled += n - head.size
            head = np.concatenate([np.zeros(n - head.size, dtype=np.int16), head])
        return head

    @property
    def offset_ms(self) -> float:
        """How much later than it played the reference is paired with the microphone: add it to a
        delay measured between the two to get the playback → capture delay."""
        return self.cushion_ms + 1000 * self._filled / MIC.rate

    @property
    def queued(self) -> int:
        """Far-end samples waiting."""
        return int(self._queue.size)

    def reset(self) -> None:
        self._resampler.reset()
        self._queue = np.zeros(0, dtype=np.int16)
        self._out = np.zeros(0, dtype=np.int16)
        self._running = False
        self._filled = 0


class ReferenceTap(SinkWrapper):
    """An :class:`~speaker.audio.ports.AudioSink` wrapper that feeds ``on_played`` with exactly the
    audio that has been played, after volume, as the inner sink's ``played_ms`` advances.

    Call :meth:`release` often (the :class:`CancellingSource` does, before each microphone frame);
    it compares ``played_ms`` with what it released before and hands over the difference. Audio
    cleared by a barge-in is never released."""

    def __init__(self, sink: AudioSink, on_played: Callable[[bytes], None]) -> None:
        super().__init__(sink)
        self._on_played = on_played
        self._pending = bytearray()
        """Written but not yet released: starts at ``_released`` bytes into the stream."""
        self._released = 0
        self._base_ms = 0.0

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self._base_ms = self.sink.played_ms
        return self

    def write(self, pcm: bytes) -> None:
        self.sink.write(pcm)
        self._pending += pcm

    def clear(self) -> None:
        self.sink.clear()
        # what the sink dropped never plays: keep only what was played and not yet released
        self._pending = self._pending[: max(0, self._played_bytes() - self._released)]

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
