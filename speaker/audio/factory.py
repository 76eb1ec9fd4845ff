"""Build the audio adapters the settings ask for: a file/FIFO or a sound card, behind the same ports."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from speaker.audio.format import MIC, AudioFormat
from speaker.audio.ports import AudioSink, AudioSource
from speaker.config.schema import AudioInputSettings, AudioOutputSettings
from speaker.errors import AudioDeviceError

log = logging.getLogger(__name__)


def open_source(settings: AudioInputSettings, *, file: Path | None = None, resilient: bool = True) -> AudioSource:
    """The microphone: ``file`` (e.g. ``speaker run --input``) or ``settings.file`` if given, else
    the sound card, wrapped in :class:`ResilientSource` so that unplugging it does not end the stream
    (``resilient=False``: the bare device source, whose errors surface at once, for ``speaker check``).

    ``settings.channels`` applies to a configured ``settings.file`` too (a recording of the array);
    a ``file`` passed here has all its channels mixed."""
    if file is not None or settings.file is not None:
        from speaker.audio.file_source import FileSource

        path = file if file is not None else settings.file
        assert path is not None
        return FileSource(path, realtime=settings.realtime, block_ms=settings.block_ms,
                          channels=None if file is not None else settings.channels)
    from speaker.audio.device_source import DeviceSource

    if not resilient:
        return DeviceSource(settings)
    return ResilientSource(lambda: DeviceSource(settings), retry_s=settings.retry_s)


def open_sink(settings: AudioOutputSettings, *, file: Path | None = None, resilient: bool = False) -> AudioSink:
    """The speaker: ``file`` (e.g. ``speaker run --output``) or ``settings.file`` if given, else the
    sound card. A sound card unplugged while open is reopened when it is back. One missing at start
    raises AudioDeviceError, unless ``resilient`` (the daemon: start anyway, play nothing, keep trying)."""
    if file is not None or settings.file is not None:
        from speaker.audio.file_sink import FileSink

        path = file if file is not None else settings.file
        assert path is not None
        return FileSink(path, realtime=settings.realtime, volume=settings.volume, retry_s=settings.retry_s)
    from speaker.audio.device_sink import DeviceSink

    return DeviceSink(settings, wait_for_device=resilient)


class ResilientSource:
    """An :class:`AudioSource` that survives its device going away.

    ``frames()`` opens a source from ``factory`` and yields its frames; when opening or reading
    raises :class:`AudioDeviceError` it logs the error once (ERROR), waits ``retry_s`` and opens a new
    one, for as long as it takes, logging again when audio is back. It ends only when the underlying
    source ends normally (end of a file). The daemon keeps running with the array unplugged; the wake
    word simply hears nothing."""

    format: AudioFormat = MIC

    def __init__(self, factory: Callable[[], AudioSource], *, retry_s: float) -> None:
        self._factory = factory
        self.retry_s = retry_s
        self._inner: AudioSource | None = None
        self.failures = 0
        """Device errors since the stream was last healthy."""
        self.reopened = 0
        """Times audio came back after a failure."""
        self._down_since = 0.0
        self.last_error: AudioDeviceError | None = None
        """The latest device error (kept after recovery), for status reports."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._close_inner()

    def frames(self) -> AsyncIterator[bytes]:
        return self._frames()

    async def _close_inner(self) -> None:
        inner, self._inner = self._inner, None
        if inner is not None:
            try:
                await inner.__aexit__(None, None, None)
            except AudioDeviceError as exc:
                log.debug("closing the failed audio input: %s", exc)

    async def _frames(self) -> AsyncIterator[bytes]:
        while True:
            try:
                inner = self._factory()
                if inner.format != self.format:
                    raise ValueError(f"source format {inner.format} is not {self.format}")
                await inner.__aenter__()
                self._inner = inner
                async for frame in inner.frames():
                    if self.failures:
                        log.warning("audio input is back after %.1f s", time.monotonic() - self._down_since)
                        self.failures = 0
                        self.reopened += 1
                    yield frame
                return
            except AudioDeviceError as exc:
                self.last_error = exc
                if self.failures == 0:
                    self._down_since = time.monotonic()
                    log.error("%s; retrying every %g s", exc, self.retry_s)
                else:
                    log.debug("audio input still unavailable (%d): %s", self.failures, exc)
                self.failures += 1
            finally:
                await self._close_inner()
            await asyncio.sleep(self.retry_s)
