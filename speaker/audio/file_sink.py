"""Speaker audio to a WAV or raw file, a FIFO or stdout (headless runs, tests, the demo).

In real-time mode a player task takes queued audio at the pace a sound card would, so ``played_ms``,
``clear`` (barge-in) and ``drain`` behave as they do on a device and can be measured without one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
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

    Silence between replies is not written: the file holds what was played, back to back."""

    def __init__(self, path: Path, *, rate: int = REALTIME.rate, realtime: bool = True,
                 volume: int = 100) -> None:
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

    async def __aenter__(self) -> Self:
        # sizes say 'unknown' until close fixes them: a reader of a crashed run's file reads to the end
        header = wav_header(self.format.rate, 1, _UNKNOWN_SIZE) if self._wav else b""
        if is_stream_path(self.path):
            self._writer = ThreadedWriter(self.path, name=f"audio-out {self._name}", header=header)
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
            if self._wav:
                self._file.seek(0)
                self._file.write(wav_header(self.format.rate, 1, self._data_bytes))
            self._file.close()
            self._file = None

    # ------------------------------------------------------------------ the port

    def write(self, pcm: bytes) -> None:
        """Queue audio (``format``, mono s16le). Never blocks."""
        if len(pcm) % 2:
            raise ValueError("PCM must be whole 16-bit samples")
        if not pcm:
            return
        self._written += len(pcm)
        if not self.realtime:
            self._output(pcm)
            self._played += len(pcm)
            return
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

    def _output(self, pcm: bytes) -> None:
        data = apply_gain_bytes(pcm, self._gain)
        self._data_bytes += len(data)
        if self._writer is not None:
            self._writer.write(data)
        elif self._file is not None:
            self._file.write(data)

    async def _play(self) -> None:
        """Take audio from the queue at real-time pace. Each run of audio starts its own clock; a
        run ends when the queue empties (an underrun, or the end of a reply)."""
        loop = asyncio.get_running_loop()
        bytes_per_s = self.format.bytes_per_second
        while True:
            await self._wake.wait()
            self._wake.clear()
            start = loop.time()
            taken = 0
            while self._queue:
                await asyncio.sleep(_TICK_S)
                due = int((loop.time() - start) * bytes_per_s) & ~1
                n = min(due - taken, len(self._queue))
                if n > 0:
                    chunk = bytes(self._queue[:n])
                    del self._queue[:n]
                    self._output(chunk)
                    self._played += n
                    taken += n
            self._idle.set()
