"""Microphone audio from a sound card through PortAudio (sounddevice).

The PortAudio callback runs on its own thread; it copies the block and hands it to the event loop
with ``call_soon_threadsafe``, nothing more. Channel mixing, resampling and queueing happen on the
loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import numpy as np

from speaker.audio.devices import (
    DeviceInfo,
    accepts_format,
    close_stream,
    portaudio,
    rescan_if_idle,
    resolve_device,
    stream_closed,
    stream_opened,
)
from speaker.audio.format import MIC, AudioFormat
from speaker.audio.resample import StreamResampler
from speaker.config.schema import AudioInputSettings
from speaker.errors import AudioDeviceError

log = logging.getLogger(__name__)

LOG_EVERY_S = 30.0
"""Overflow and drop counts are logged at most this often (never per block)."""


@dataclass
class InputStats:
    overflows: int = 0
    """Blocks PortAudio reported as overflowed: the device had more than we read in time."""
    dropped: int = 0
    """Blocks we dropped (the oldest) because the consumer fell more than the queue behind."""


class DeviceSource:
    """An :class:`~speaker.audio.ports.AudioSource` on a PortAudio input device.

    ``settings.device`` is an index, a case-insensitive part of the name, or None for the default.
    The stream is opened with enough channels for ``settings.channels`` (a mic array's channel 5 needs
    6), and the chosen channels are averaged to mono. It captures at 16 kHz when the device accepts
    that, else at its default rate (or ``settings.rate``) and resamples.

    Frames wait in a queue of ``queue_s``; when the consumer falls further behind the oldest block is
    dropped, so latency stays bounded. A stream that stops, errors or stays silent of callbacks for
    ``stall_s`` makes ``frames()`` raise :class:`AudioDeviceError` (wrap the source in
    :class:`~speaker.audio.factory.ResilientSource` to reopen it)."""

    format: AudioFormat = MIC

    def __init__(self, settings: AudioInputSettings, *, queue_s: float = 1.0, stall_s: float = 5.0) -> None:
        self.settings = settings
        self.block_ms = settings.block_ms
        self.stats = InputStats()
        self.device: DeviceInfo | None = None
        self.capture_rate = 0
        self._stall_s = stall_s
        self._queue: asyncio.Queue[bytes | AudioDeviceError] = asyncio.Queue(
            maxsize=max(2, round(queue_s * 1000 / self.block_ms)))
        self._block_bytes = MIC.bytes_for_ms(self.block_ms)
        self._pending = bytearray()
        self._stream: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._resampler: StreamResampler | None = None
        self._n_channels = 1
        self._logged = InputStats()
        self._last_log = -math.inf

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        try:
            self._open()
        except AudioDeviceError as exc:
            # a USB device plugged back in may have a new card number: only a re-scan finds it
            if not exc.retryable or not rescan_if_idle():
                raise
            self._open()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._close()
        if self.stats.overflows or self.stats.dropped:
            log.info("audio input closed: %d overflow(s), %d block(s) dropped in total",
                     self.stats.overflows, self.stats.dropped)

    def _open(self) -> None:
        sd = portaudio()
        s = self.settings
        device = resolve_device(s.device, "input")
        need = max(s.channels) + 1
        if need > device.max_input_channels:
            error = AudioDeviceError(f"audio.input.channels {s.channels} needs {need} channels but input device "
                                     f"{device.label('input')} has {device.max_input_channels}")
            error.retryable = False  # a configuration mistake: re-scanning will not help
            raise error
        at_16k = accepts_format(sd, "input", device.index, need, MIC.rate)
        rate = s.rate or (MIC.rate if at_16k else int(device.default_samplerate))
        self._closing = False
        try:
            stream = sd.RawInputStream(
                device=device.index, samplerate=rate, channels=need, dtype="int16",
                blocksize=rate * self.block_ms // 1000, callback=self._callback,
                finished_callback=self._finished)
        except Exception as exc:  # PortAudioError, or ValueError for settings PortAudio rejects
            raise AudioDeviceError(f"cannot open input device {device.label('input')} at {rate} Hz with "
                                   f"{need} channel(s): {exc}") from exc
        stream_opened()
        try:
            stream.start()
        except Exception as exc:
            self._closing = True
            stream.close()
            stream_closed()
            raise AudioDeviceError(f"cannot start input device {device.label('input')}: {exc}") from exc
        self._stream = stream
        self._configure(device, rate, need)
        log.info("audio input: %s at %d Hz, channel(s) %s%s", device.label("input"), rate, s.channels,
                 "" if rate == MIC.rate else " (resampled to 16 kHz)")

    def _configure(self, device: DeviceInfo, rate: int, n_channels: int) -> None:
        """State for converting the stream's blocks (callbacks only reach the loop after this)."""
        self.device, self.capture_rate, self._n_channels = device, rate, n_channels
        self._resampler = None if rate == MIC.rate else StreamResampler(rate, MIC.rate)
        self._pending.clear()

    def _close(self) -> None:
        self._closing = True
        stream, self._stream = self._stream, None
        if stream is None:
            return
        close_stream(stream, "input")

    # ------------------------------------------------------------------ PortAudio thread

    def _callback(self, indata: Any, frames: int, time: Any, status: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: we are shutting down
            self._loop.call_soon_threadsafe(self._on_block, bytes(indata), bool(status.input_overflow))

    def _finished(self) -> None:
        if self._closing or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._on_lost, "the input stream stopped")

    # ------------------------------------------------------------------ event loop

    def _on_block(self, data: bytes, overflow: bool) -> None:
        if self._stream is None:
            return
        if overflow:
            self.stats.overflows += 1
        channels = self.settings.channels
        if self._n_channels == 1 and self._resampler is None:
            pcm = data
        else:
            samples = np.frombuffer(data, dtype="<i2").reshape(-1, self._n_channels)
            if len(channels) == 1:
                mono = np.ascontiguousarray(samples[:, channels[0]])
            else:
                mono = np.rint(samples[:, channels].mean(axis=1, dtype=np.float32)).astype(np.int16)
            if self._resampler is not None:
                mono = self._resampler.process_array(mono)
            pcm = mono.astype("<i2", copy=False).tobytes()
        if not self._pending and len(pcm) == self._block_bytes:
            self._put(pcm)
        else:
            self._pending += pcm
            while len(self._pending) >= self._block_bytes:
                self._put(bytes(self._pending[:self._block_bytes]))
                del self._pending[:self._block_bytes]
        self._maybe_log()

    def _put(self, item: bytes | AudioDeviceError) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.stats.dropped += 1
        self._queue.put_nowait(item)

    def _on_lost(self, why: str) -> None:
        if self._stream is None:
            return
        name = self.device.label("input") if self.device else "?"
        self._put(AudioDeviceError(f"audio input device {name} failed: {why} (unplugged?)"))

    def _maybe_log(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        if now - self._last_log < LOG_EVERY_S:
            return
        overflows = self.stats.overflows - self._logged.overflows
        dropped = self.stats.dropped - self._logged.dropped
        if not (overflows or dropped):
            return
        log.warning("audio input: %d overflow(s) (device read too late) and %d block(s) dropped "
                    "(processing too slow) since the last report", overflows, dropped)
        self._logged = InputStats(self.stats.overflows, self.stats.dropped)
        self._last_log = now

    # ------------------------------------------------------------------ the port

    def frames(self) -> AsyncIterator[bytes]:
        if self._stream is None:
            raise RuntimeError("DeviceSource.frames() needs 'async with source:' first")
        return self._frames()

    async def _frames(self) -> AsyncIterator[bytes]:
        name = self.device.label("input") if self.device else "?"
        while True:
            try:
                async with asyncio.timeout(self._stall_s):
                    item = await self._queue.get()
            except TimeoutError:
                raise AudioDeviceError(f"audio input device {name} delivered nothing for "
                                       f"{self._stall_s:g} s (unplugged or stalled?)") from None
            if isinstance(item, AudioDeviceError):
                raise item
            yield item
