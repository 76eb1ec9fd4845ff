"""Speaker audio to a WAV or raw file, a FIFO or stdout (headless runs, tests, the demo).

In real-time mode a player task takes queued audio at the pace a sound card would, so ``played_ms``,
``clear`` (barge-in) and ``drain`` behave as they do on a device and can be measured without one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from speaker.audio.blocking_io import STDIO, ThreadedWriter, is_stream_path
from speaker.audio.format import REALTIME, AudioFormat
from speaker.audio.gain import apply_gain_bytes, check_volume, volume_gain
from speaker.audio.wavfile import wav_header
from speaker.errors import AudioDeviceError

log = logging.getLogger(__name__)

_TICK_S = 0.01
"""The player's period: ``played_ms`` is exact to within this."""
_UNKNOWN_SIZE = 0xFFFFFFFF


class FileSink:
    """An :class:`~speaker.audio.ports.AudioSink` writing mono s16le at ``rate`` to a file, FIFO or
    stdout (``-``). A ``.wav`` name gets a WAV header (its sizes are fixed up on close; on a FIFO they
    say 'unknown'), anything else is raw.

    ``realtime=True``: audio is 'played' at real-time pace from a queue, so ``played_ms`` grows like a
    sound card's and ``clear`` drops whatever has not been played yet (none of it is written).
    ``realtime=False``: ``write`` writes at once; ``played_ms`` equals ``written_ms``.

    Silence between replies is not written: the file holds what was played, back to back.

    The output survives failures like a device: a FIFO whose reader went away, or a file that cannot be
    written (disk full), is logged once and reopened every ``retry_s`` (a FIFO is probed more often, see
    :class:`~speaker.audio.blocking_io.ThreadedWriter`); audio meanwhile is dropped. ``played_ms`` and
    ``drain`` go on at the real-time pace regardless, so a conversation never waits on a dead output.
    ``clock`` (default: the loop's) paces real-time mode; tests pass their own."""

    def __init__(self, path: Path, *, rate: int = REALTIME.rate, realtime: bool = True,
                 volume: int = 100, retry_s: float = 5.0, clock: Callable[[], float] | None = None) -> None:
        self.path = Path(path)
        self.format: AudioFormat = AudioFormat(rate)
        self.realtime = realtime
        self._volume = check_volume(volume)
        self._gain = volume_gain(volume)
        self._wav = self.path.suffix.lower() == ".wav"
        self._name = "stdout" if self.path == STDIO else str(self.path)
        self._file: BinaryIO | None = None
        self._writer: ThreadedWriter | None = None
        self._queue = bytearray()
        self._written = 0
        self._played = 0
        self._data_bytes = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._player: asyncio.Task[None] | None = None
        self._retry_s = retry_s
        self._clock = clock
        self._run_start = 0.0
        self._run_taken = 0
        self._header = b""
        self._file_error_at: float | None = None
        self._file_down_since: float | None = None
        self.odd_bytes = 0
        """Odd trailing bytes dropped from writes that were not whole 16-bit samples."""
        self.dropped = 0
        """Bytes of audio that could not be written to a failed file output."""

    async def __aenter__(self) -> Self:
        # sizes say 'unknown' until close fixes them: a reader of a crashed run's file reads to the end
        header = wav_header(self.format.rate, 1, _UNKNOWN_SIZE) if self._wav else b""
        self._header = header
        if self._clock is None:
            self._clock = asyncio.get_running_loop().time
        if is_stream_path(self.path):
            self._writer = ThreadedWriter(self.path, name=f"audio-out {self._name}", header=header,
                                          retry_s=self._retry_s, max_pending=self.format.bytes_for_ms(10_000),
                                          clock=self._clock)
            self._writer.start()
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "wb")  # noqa: SIM115, ASYNC230 (a local file: fast)
            except OSError as exc:
                raise AudioDeviceError(f"cannot write audio output {self._name}: {exc.strerror or exc}") from exc
            self._file.write(header)
        if self.realtime:
            self._player = asyncio.create_task(self._play(), name=f"file-sink player {self._name}")
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._queue:
            log.debug("file sink: closed with %.0f ms not yet played", self.format.ms_for_bytes(len(self._queue)))
        if self._player is not None:
            self._player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._player
            self._player = None
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        if self._file is not None:
            try:
                if self._wav and self._file_down_since is None:
                    self._file.seek(0)
                    self._file.write(wav_header(self.format.rate, 1, self._data_bytes))
            except OSError as exc:
                log.warning("audio output %s: could not fix up the WAV header: %s", self._name, exc)
            finally:
                with contextlib.suppress(OSError):
                    self._file.close()
                self._file = None

    # ------------------------------------------------------------------ the port

    def write(self, pcm: bytes) -> None:
        """Queue audio (``format``, mono s16le). Never blocks, never raises: a write that is not whole
        samples loses its odd last byte (counted in ``odd_bytes``, logged the first time)."""
        if len(pcm) % 2:
            if not self.odd_bytes:
                log.warning("audio output %s: dropped the odd last byte of a %d-byte write (PCM16 is whole "
                            "2-byte samples; later ones are counted, not logged)", self._name, len(pcm))
            self.odd_bytes += 1
            pcm = pcm[:-1]
        if not pcm:
            return
        self._written += len(pcm)
        if not self.realtime:
            self._output(pcm)
            self._played += len(pcm)
            return
        if not self._queue:  # a new run starts now (the player notices within a tick)
            assert self._clock is not None
            self._run_start, self._run_taken = self._clock(), 0
        self._queue += pcm
        self._idle.clear()
        self._wake.set()

    def clear(self) -> None:
        """Drop everything not yet played; none of it reaches the file. ``written_ms`` falls back to
        ``played_ms`` (what was cut off is no longer 'written')."""
        if self._queue:
            log.debug("file sink: cleared %.0f ms of queued audio", self.format.ms_for_bytes(len(self._queue)))
        self._written -= len(self._queue)
        self._queue.clear()
        self._idle.set()

    async def drain(self) -> None:
        """Wait until everything written so far has been played."""
        await self._idle.wait()

    @property
    def written_ms(self) -> float:
        return self.format.ms_for_bytes(self._written)

    @property
    def played_ms(self) -> float:
        return self.format.ms_for_bytes(self._played)

    @property
    def volume(self) -> int:
        return self._volume

    def set_volume(self, percent: int) -> None:
        self._volume = check_volume(percent)
        self._gain = volume_gain(percent)

    # ------------------------------------------------------------------ inside

    @property
    def output_ok(self) -> bool:
        """False while the file or FIFO is failing (audio is being dropped)."""
        if self._writer is not None:
            return not self._writer.out.is_set()
        return self._file_down_since is None

    def _output(self, pcm: bytes) -> None:
        data = apply_gain_bytes(pcm, self._gain)
        if self._writer is not None:
            self._data_bytes += len(data)
            self._writer.write(data)
        elif self._file is not None:
            self._write_file(data)

    def _write_file(self, data: bytes) -> None:
        assert self._file is not None and self._clock is not None
        now = self._clock()
        if self._file_error_at is not None:
            if now - self._file_error_at < self._retry_s:
                self.dropped += len(data)
                return
            self._file_error_at = None  # try again
        try:
            self._file.write(data)
            self._file.flush()
        except OSError as exc:
            if self._file_down_since is None:
                self._file_down_since = now
                log.error("audio output %s failed (%s); dropping audio, retrying every %g s", self._name,
                          exc.strerror or exc, self._retry_s)
            self._file_error_at = now
            self.dropped += len(data)
            return
        if self._file_down_since is not None:
            log.warning("audio output %s is back after %.1f s", self._name, now - self._file_down_since)
            self._file_down_since = None
        self._data_bytes += len(data)

    async def _play(self) -> None:
        """Take audio from the queue at real-time pace. Each run of audio starts its own clock when
        ``write`` finds the queue empty; a run ends when the queue empties (an underrun, the end of a
        reply, a clear)."""
        assert self._clock is not None
        clock = self._clock
        bytes_per_s = self.format.bytes_per_second
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await asyncio.sleep(_TICK_S)
                due = int((clock() - self._run_start) * bytes_per_s) & ~1
                n = min(due - self._run_taken, len(self._queue))
                if n > 0:
                    chunk = bytes(self._queue[:n])
                    del self._queue[:n]
                    self._output(chunk)
                    self._played += n
                    self._run_taken += n
            self._idle.set()
