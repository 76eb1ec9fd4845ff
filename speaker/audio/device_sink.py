"""Speaker audio to a sound card through PortAudio (sounddevice).

The stream is opened once and runs for the sink's lifetime, rendering silence between replies, so a
reply starts without the cost (and the pop) of opening a device. The PortAudio callback only copies
from the :class:`~speaker.audio.playout.Playout` jitter buffer; everything else runs on the loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
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
    stream_opened,
)
from speaker.audio.format import REALTIME, AudioFormat
from speaker.audio.gain import check_volume, volume_gain
from speaker.audio.playout import Playout
from speaker.audio.resample import StreamResampler
from speaker.config.schema import AudioOutputSettings
from speaker.errors import AudioDeviceError

log = logging.getLogger(__name__)

LOG_EVERY_S = 30.0
_WATCH_S = 0.5
_STALL_S = 2.0
"""No callback for this long while the stream should run means the device is gone."""


class DeviceSink:
    """An :class:`~speaker.audio.ports.AudioSink` on a PortAudio output device.

    Accepts 24 kHz mono (the Realtime format) and plays it at 24 kHz when the device takes that, else
    at the device's default rate (or ``settings.rate``) after resampling; mono is copied to both
    channels of a device that wants stereo. ``settings.latency_ms`` is the device buffer asked for:
    ``clear()`` silences the speaker within about that long.

    If the device disappears (USB unplugged), the error is logged, audio written meanwhile is
    discarded, ``drain()`` raises :class:`AudioDeviceError`, and the device is reopened every
    ``settings.retry_s`` until it is back. A device missing at start raises, unless
    ``wait_for_device`` (then it is treated as lost from the start)."""

    format: AudioFormat = REALTIME

    def __init__(self, settings: AudioOutputSettings, *, fade_ms: float = 5.0, prefill_ms: float = 20.0,
                 wait_for_device: bool = False) -> None:
        self.settings = settings
        self.wait_for_device = wait_for_device
        """Start even if the device is missing (log it, discard audio, keep trying) instead of raising."""
        self.device: DeviceInfo | None = None
        self.device_rate = 0
        self.underflows = 0
        self._fade_ms = fade_ms
        self._prefill_ms = prefill_ms
        self._volume = check_volume(settings.volume)
        self._playout: Playout | None = None
        self._resampler: StreamResampler | None = None
        self._stream: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._lost: str | None = None
        self._lost_at = 0.0
        self._last_callback = 0.0
        self._latency = 0.0
        self._written_ms = 0.0
        self._played_base_ms = 0.0
        """played_ms carried over from streams before a reopen, and audio discarded while lost."""
        self._logged_underflows = 0
        self._last_log = -math.inf
        self._watchdog: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        try:
            self._open_or_rescan()
        except AudioDeviceError as exc:
            if not self.wait_for_device:
                raise
            self._lost, self._lost_at = str(exc), time.monotonic()
            log.error("%s; retrying every %g s", exc, self.settings.retry_s)
        self._watchdog = asyncio.create_task(self._watch(), name="audio output watchdog")
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        self._close()

    def _open_or_rescan(self) -> None:
        try:
            self._open()
        except AudioDeviceError as exc:
            # a USB device plugged back in may have a new card number: only a re-scan finds it
            if not exc.retryable or not rescan_if_idle():
                raise
            self._open()

    def _open(self) -> None:
        sd = portaudio()
        device = resolve_device(self.settings.device, "output")
        if device.max_output_channels < 1:
            raise AudioDeviceError(f"{device.label('output')} has no output channels")
        rates = [self.settings.rate] if self.settings.rate else [REALTIME.rate, int(device.default_samplerate)]
        # mono where the device takes it; some (a HAT's raw hw device) only open in stereo
        channels, rate = next(((c, r) for c in (1, 2) if c <= device.max_output_channels for r in rates
                               if accepts_format(sd, "output", device.index, c, r)),
                              (min(2, device.max_output_channels), rates[-1]))
        self._closing = False
        try:
            stream = sd.OutputStream(device=device.index, samplerate=rate, channels=channels, dtype="int16",
                                     latency=self.settings.latency_ms / 1000, callback=self._callback,
                                     finished_callback=self._finished)
        except Exception as exc:  # PortAudioError, or ValueError for settings PortAudio rejects
            raise AudioDeviceError(f"cannot open output device {device.label('output')} at {rate} Hz with "
                                   f"{channels} channel(s): {exc}") from exc
        stream_opened()
        playout = Playout(rate, fade_ms=self._fade_ms, prefill_ms=self._prefill_ms)
        playout.gain = volume_gain(self._volume)
        self._playout, self._stream, self.device, self.device_rate = playout, stream, device, rate
        self._resampler = None if rate == REALTIME.rate else StreamResampler(REALTIME.rate, rate)
        self._latency = float(stream.latency)
        self._last_callback = time.monotonic()
        self._lost = None
        try:
            stream.start()
        except Exception as exc:
            self._close()
            raise AudioDeviceError(f"cannot start output device {device.label('output')}: {exc}") from exc
        log.info("audio output: %s at %d Hz, %d channel(s), %.0f ms device latency%s", device.label("output"),
                 rate, channels, 1000 * self._latency, "" if rate == REALTIME.rate else " (resampled from 24 kHz)")

    def _close(self) -> None:
        """Close the stream; what has played stays counted, what is queued is dropped."""
        self._closing = True
        if self._playout is not None:
            self._played_base_ms = self.played_ms
            self._written_ms = self._played_base_ms
            self._playout = None
        stream, self._stream = self._stream, None
        if stream is None:
            return
        close_stream(stream, "output")

    # ------------------------------------------------------------------ PortAudio thread

    def _callback(self, outdata: np.ndarray, frames: int, ti: Any, status: Any) -> None:
        now = time.monotonic()
        self._last_callback = now
        if status.output_underflow:
            self.underflows += 1
        playout = self._playout
        if playout is None:
            outdata.fill(0)
            return
        delay = ti.outputBufferDacTime - ti.currentTime
        if not 0.0 < delay < 2.0:  # some host APIs report no timing: fall back to the nominal latency
            delay = self._latency
        playout.render(outdata, now, delay)

    def _finished(self) -> None:
        if self._closing or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: shutting down anyway
            self._loop.call_soon_threadsafe(self._mark_lost, "the output stream stopped")

    # ------------------------------------------------------------------ event loop

    def _mark_lost(self, why: str) -> None:
        if self._lost is not None or self._stream is None:
            return
        name = self.device.label("output") if self.device else "?"
        self._lost = f"audio output device {name} failed: {why} (unplugged?)"
        self._lost_at = time.monotonic()
        log.error("%s; retrying every %g s", self._lost, self.settings.retry_s)

    async def _watch(self) -> None:
        """Notice a dead device, reopen it every retry_s, log underflow counts now and then."""
        while True:
            await asyncio.sleep(_WATCH_S)
            if self._lost is None:
                if self._stream is not None and time.monotonic() - self._last_callback > _STALL_S:
                    self._mark_lost(f"no callback for {_STALL_S:g} s")
                self._log_underflows()
                continue
            self._close()
            attempts = 0
            while self._stream is None:
                await asyncio.sleep(self.settings.retry_s)
                attempts += 1
                try:
                    self._open_or_rescan()
                except AudioDeviceError as exc:
                    log.debug("audio output still missing (attempt %d): %s", attempts, exc)
            log.warning("audio output is back after %.1f s", time.monotonic() - self._lost_at)

    def _log_underflows(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        fresh = self.underflows - self._logged_underflows
        if fresh and now - self._last_log >= LOG_EVERY_S:
            log.warning("audio output: %d device underflow(s) since the last report", fresh)
            self._logged_underflows = self.underflows
            self._last_log = now

    # ------------------------------------------------------------------ the port

    def write(self, pcm: bytes) -> None:
        """Queue 24 kHz mono s16le. Never blocks; playback starts within ``prefill_ms``."""
        if len(pcm) % 2:
            raise ValueError("PCM must be whole 16-bit samples")
        ms = REALTIME.ms_for_bytes(len(pcm))
        self._written_ms += ms
        playout = self._playout
        if self._lost is not None or playout is None:
            self._played_base_ms += ms  # nobody can hear it: count it as gone by
            return
        samples = np.frombuffer(pcm, dtype="<i2")
        if self._resampler is not None:
            samples = self._resampler.process_array(samples)
        playout.push(samples, time.monotonic())

    def clear(self) -> None:
        """Stop at once: drop queued audio (a few ms fade out); the device buffer still plays, so the
        speaker is silent within ``latency_ms``. ``written_ms`` falls back to what was handed to the
        device, so ``written_ms - played_ms`` stays 'audio still to be heard'."""
        playout = self._playout
        if playout is None:
            self._written_ms = self.played_ms
            return
        dropped = playout.clear()
        if self._resampler is not None:
            self._resampler.reset()
        self._written_ms = self._played_base_ms + 1000 * (playout.consumed + playout.queued) / playout.rate
        if dropped:
            log.debug("audio output: cleared %.0f ms", 1000 * dropped / playout.rate)

    async def drain(self) -> None:
        """Wait until everything written has been heard. Raises AudioDeviceError if the device is
        gone (or goes) meanwhile."""
        if self._resampler is not None and self._playout is not None:
            self._playout.push(np.frombuffer(self._resampler.flush(), dtype="<i2"), time.monotonic())
        while True:
            if self._lost is not None:
                raise AudioDeviceError(self._lost)
            playout = self._playout
            if playout is None or playout.idle(time.monotonic()):
                return
            left_s = (self.written_ms - self.played_ms) / 1000
            await asyncio.sleep(min(max(left_s, 0.005), _WATCH_S))

    @property
    def written_ms(self) -> float:
        return self._written_ms

    @property
    def played_ms(self) -> float:
        playout = self._playout
        if playout is None:
            return self._played_base_ms
        return self._played_base_ms + 1000 * playout.played(time.monotonic()) / playout.rate

    @property
    def available(self) -> bool:
        """The device is open and playing (false while it is missing and being retried)."""
        return self._stream is not None and self._lost is None

    @property
    def latency_ms(self) -> float:
        """The device's output latency as PortAudio reports it."""
        return 1000 * self._latency

    @property
    def volume(self) -> int:
        return self._volume

    def set_volume(self, percent: int) -> None:
        """Software volume, effective from the next device block."""
        self._volume = check_volume(percent)
        if self._playout is not None:
            self._playout.gain = volume_gain(percent)
