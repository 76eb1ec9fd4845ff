"""Microphone audio from a WAV or raw file, a FIFO or stdin (headless runs, tests, the demo, benches).

A WAV of any rate and channel count is decoded in chunks (never read whole), the chosen channels are
averaged to mono and resampled to 16 kHz. Raw input is s16le 16 kHz mono: files named ``*.raw`` or
``*.pcm``, and anything on a FIFO or stdin that does not start with a RIFF header."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Literal, Self

import numpy as np

from speaker.audio.blocking_io import STDIO, ThreadedReader, is_stream_path, open_for_reading
from speaker.audio.format import MIC, AudioFormat
from speaker.audio.resample import StreamResampler
from speaker.audio.wavfile import WavFormatError, WavHeader, read_exact, read_wav_header, to_int16
from speaker.errors import AudioDeviceError

log = logging.getLogger(__name__)

RAW_SUFFIXES = frozenset({".raw", ".pcm", ".s16", ".s16le"})
_CHUNK_S = 0.5
"""Seconds of input decoded per read: large enough that per-read costs vanish, small enough to stream."""
_STREAM_READ = 65536
_YIELD_EVERY = 50
"""In fast mode, let other tasks run once per this many blocks (an unpaced generator never would)."""
_MAX_BEHIND_S = 1.0
"""In real-time mode, a consumer or FIFO writer this far behind restarts the clock instead of bursting."""

Kind = Literal["wav", "raw", "auto"]


@dataclass
class _Opened:
    header: WavHeader | None
    """None: raw s16le 16 kHz mono."""
    prefix: bytes
    """Audio already read while looking for a RIFF header."""
    read: Callable[[int], bytes]
    file: BinaryIO


def _kind(path: Path) -> Kind:
    suffix = path.suffix.lower()
    if suffix == ".wav":
        return "wav"
    if suffix in RAW_SUFFIXES:
        return "raw"
    return "auto"


def _open_blocking(path: Path, kind: Kind, streaming: bool) -> _Opened:
    """Open and read the header. Blocks on a FIFO until its writer connects."""
    name = "stdin" if path == STDIO else str(path)
    f = open_for_reading(path)
    try:
        # read1 returns what a pipe has now instead of waiting for a whole chunk (live writers)
        read: Callable[[int], bytes] = f.read1 if streaming else f.read  # type: ignore[attr-defined]
        if kind == "raw":
            return _Opened(None, b"", read, f)
        if kind == "wav":
            return _Opened(read_wav_header(f.read, name), b"", read, f)
        head = read_exact(f.read, 4)
        if head != b"RIFF":
            return _Opened(None, head, read, f)
        replay = head

        def read_header(n: int) -> bytes:
            nonlocal replay
            if replay:  # the sniffed bytes first
                out, replay = replay[:n], replay[n:]
                return out
            return f.read(n)

        return _Opened(read_wav_header(read_header, name), b"", read, f)
    except BaseException:
        f.close()
        raise


class _Converter:
    """Whole frames of the input format in, mono 16 kHz s16le out."""

    def __init__(self, header: WavHeader | None, channels: list[int] | None, name: str) -> None:
        self._header = header
        n_in = header.channels if header is not None else 1
        picked = list(range(n_in)) if channels is None else list(channels)
        bad = [c for c in picked if c >= n_in]
        if bad:
            what = "raw input is mono" if header is None else f"it has {n_in} channel(s)"
            raise WavFormatError(f"{name}: cannot use channel {bad[0]}: {what} (channels count from 0)")
        self._picked = picked
        rate = header.rate if header is not None else MIC.rate
        self._resampler = StreamResampler(rate, MIC.rate)
        self.frame_bytes = header.frame_bytes if header is not None else 2
        self.passthrough = self._resampler.passthrough and picked == [0] and (
            header is None or (header.sample_width == 2 and not header.is_float and n_in == 1))
        self._pending = b""

    def convert(self, raw: bytes) -> bytes:
        if self._pending:
            raw = self._pending + raw
        usable = len(raw) - len(raw) % self.frame_bytes
        self._pending = raw[usable:]
        if self.passthrough:
            return raw[:usable]
        if self._header is None:
            samples = np.frombuffer(raw[:usable], dtype="<i2").reshape(-1, 1)
        else:
            samples = to_int16(raw[:usable], self._header)
        if len(self._picked) == 1:
            mono = np.ascontiguousarray(samples[:, self._picked[0]])
        else:
            mixed = samples[:, self._picked].mean(axis=1, dtype=np.float32)
            mono = np.rint(mixed).astype(np.int16)
        return self._resampler.process_array(mono).astype("<i2", copy=False).tobytes()

    def finish(self) -> bytes:
        self._pending = b""
        return self._resampler.flush()


class FileSource:
    """An :class:`~speaker.audio.ports.AudioSource` reading a WAV/raw file, a FIFO or stdin (``-``).

    Yields mono s16le 16 kHz blocks of ``block_ms`` (the last one zero-padded), paced against the
    monotonic clock when ``realtime`` (block *n* is released at start + (n+1)·block, like a sound
    card: no drift however long the input), as fast as possible otherwise. ``channels`` picks WAV
    channels to average (default: all). The iterator ends at end of input."""

    format: AudioFormat = MIC

    def __init__(self, path: Path, *, realtime: bool = True, block_ms: int = 10,
                 channels: list[int] | None = None) -> None:
        if block_ms <= 0 or (MIC.rate * block_ms) % 1000:
            raise ValueError(f"block_ms {block_ms} is not a whole number of 16 kHz samples")
        self.path = Path(path)
        self.realtime = realtime
        self.block_ms = block_ms
        self.channels = channels
        self._name = "stdin" if self.path == STDIO else str(self.path)
        self._opened: _Opened | None = None
        self._reader: ThreadedReader[_Opened | bytes] | None = None
        self._started = False

    async def __aenter__(self) -> Self:
        kind = _kind(self.path)
        if is_stream_path(self.path):
            path = self.path

            def produce(emit: Callable[[_Opened | bytes], None]) -> None:
                opened = _open_blocking(path, kind, streaming=True)
                try:
                    emit(opened)
                    if opened.prefix:
                        emit(opened.prefix)
                    while chunk := opened.read(_STREAM_READ):
                        emit(chunk)
                finally:
                    opened.file.close()

            self._reader = ThreadedReader(produce, name=f"audio-in {self._name}")
            self._reader.start()
        else:
            try:
                self._opened = _open_blocking(self.path, kind, streaming=False)
            except OSError as exc:
                raise AudioDeviceError(f"cannot read audio input {self._name}: {exc.strerror or exc}") from exc
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._reader is not None:
            self._reader.stop()
            self._reader = None
        if self._opened is not None:
            self._opened.file.close()
            self._opened = None

    def frames(self) -> AsyncIterator[bytes]:
        if self._opened is None and self._reader is None:
            raise RuntimeError("FileSource.frames() needs 'async with source:' first")
        if self._started:
            raise RuntimeError("FileSource.frames() can be iterated once")
        self._started = True
        return self._frames()

    async def _header(self) -> tuple[WavHeader | None, bytes]:
        if self._opened is not None:
            return self._opened.header, self._opened.prefix
        assert self._reader is not None
        try:
            first = await self._reader.get()
        except OSError as exc:
            raise AudioDeviceError(f"cannot read audio input {self._name}: {exc.strerror or exc}") from exc
        if not isinstance(first, _Opened):
            raise AudioDeviceError(f"audio input {self._name} ended before it started")
        return first.header, b""  # the reader thread emits the prefix as the first chunk

    async def _chunk(self, size: int) -> bytes:
        if self._opened is not None:
            return self._opened.read(size)
        if self._reader is None:
            return b""
        item = await self._reader.get()
        return item if isinstance(item, bytes) else b""

    async def _frames(self) -> AsyncIterator[bytes]:
        header, prefix = await self._header()
        conv = _Converter(header, self.channels, self._name)
        remaining = header.data_size if header is not None else None
        rate = header.rate if header is not None else MIC.rate
        chunk_bytes = max(int(rate * _CHUNK_S), 1) * conv.frame_bytes
        block_bytes = MIC.bytes_for_ms(self.block_ms)
        block_s = self.block_ms / 1000
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        carry = b""
        ended = False
        while not ended:
            raw = prefix or await self._chunk(chunk_bytes if remaining is None else min(chunk_bytes, remaining))
            prefix = b""
            if remaining is not None:
                raw = raw[:remaining]
                remaining -= len(raw)
            ended = not raw or remaining == 0
            data = conv.convert(raw) if raw else b""
            if ended:
                data += conv.finish()
                tail = (len(carry) + len(data)) % block_bytes
                if tail:
                    data += bytes(block_bytes - tail)
            if carry:
                data = carry + data
            usable = len(data) - len(data) % block_bytes
            carry = data[usable:]
            for offset in range(0, usable, block_bytes):
                n += 1
                if self.realtime:
                    delay = start + n * block_s - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    elif delay < -_MAX_BEHIND_S:
                        start = loop.time() - n * block_s
                elif n % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                yield data[offset:offset + block_bytes]
        log.debug("audio input %s ended after %.2f s", self._name, n * block_s)
