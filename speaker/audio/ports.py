"""The audio ports. Devices, files, FIFOs and test fakes all plug in here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Protocol, Self

from speaker.audio.format import AudioFormat


class AudioSource(Protocol):
    """Microphone audio: an async context manager yielding mono s16le frames in ``format``
    (16 kHz for the front end), each ``block_ms`` long. The iterator ends at end of input (files)."""

    format: AudioFormat

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    def frames(self) -> AsyncIterator[bytes]: ...


class AudioSink(Protocol):
    """The speaker. ``write`` queues audio (never blocks); ``clear`` drops what is queued at once
    (barge-in); ``drain`` waits until the queue has really played.

    ``written_ms`` and ``played_ms`` are running totals since the sink was opened, in milliseconds of
    ``format`` audio: played is what left the device, i.e. written minus what is still queued in our
    buffer and in the device. Their difference is what a barge-in would cut off. ``clear`` takes the
    audio it dropped out of ``written_ms`` as well (it falls back to what the device still holds), so
    the difference stays 'audio still to be heard' and positions stay comparable across a barge-in."""

    format: AudioFormat

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    def write(self, pcm: bytes) -> None: ...

    def clear(self) -> None: ...

    async def drain(self) -> None: ...

    @property
    def written_ms(self) -> float: ...

    @property
    def played_ms(self) -> float: ...

    @property
    def volume(self) -> int: ...

    def set_volume(self, percent: int) -> None: ...
