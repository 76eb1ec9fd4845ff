"""The one WAV (RIFF) reader and writer: a streaming header parser for the file source (any byte
stream: file, FIFO, stdin; left at the first sample so audio is read in chunks), and whole-file
helpers for offline tools (wake-test, bench, demo, sounds, tests).

The stdlib ``wave`` module of Python 3.11 rejects WAVE_FORMAT_EXTENSIBLE, which sox and many
recorders write for multi-channel or 24/32-bit files, and cannot write a header for a FIFO. This
reads 8/16/24/32-bit integer PCM and 32-bit float, plain or extensible, with any chunks before
``data`` and the unknown sizes streaming encoders write."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from speaker.errors import SpeakerError


class WavFormatError(SpeakerError, ValueError):
    """Not a WAV file, or one this module cannot decode (the message names the file)."""


_PCM = 1
_FLOAT = 3
_EXTENSIBLE = 0xFFFE
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)
"""Data sizes written by streaming encoders that could not seek back (``sox ... -t wav -``)."""


@dataclass(frozen=True)
class WavHeader:
    rate: int
    channels: int
    sample_width: int
    """Bytes per sample: 1 (unsigned), 2, 3, 4 (signed integer) or 4 (float)."""
    is_float: bool
    data_size: int | None
    """Bytes of audio, or None when the header does not say (streamed WAV: read to end of stream)."""

    @property
    def frame_bytes(self) -> int:
        return self.sample_width * self.channels


def read_exact(read: Callable[[int], bytes], n: int) -> bytes:
    """Read exactly ``n`` bytes (fewer only at end of stream)."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        chunk = read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def read_wav_header(read: Callable[[int], bytes], name: str = "input") -> WavHeader:
    """Parse a RIFF/WAVE header from a stream positioned at its start; returns with the stream at the
    first audio byte. Skips LIST, fact and other chunks before ``data``."""
    head = read_exact(read, 12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise WavFormatError(f"{name}: not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int] | None = None
    while True:
        chunk_head = read_exact(read, 8)
        if len(chunk_head) < 8:
            raise WavFormatError(f"{name}: WAV file ends before its data chunk")
        chunk_id, size = chunk_head[:4], struct.unpack("<I", chunk_head[4:])[0]
        if chunk_id == b"data":
            if fmt is None:
                raise WavFormatError(f"{name}: WAV data chunk comes before its fmt chunk")
            tag, channels, rate, bits = fmt
            return _header(name, tag, channels, rate, bits, None if size in _UNKNOWN_SIZES else size)
        body = read_exact(read, size + (size & 1))  # chunks are padded to an even length
        if len(body) < size:
            raise WavFormatError(f"{name}: truncated WAV {chunk_id!r} chunk")
        if chunk_id == b"fmt ":
            if size < 16:
                raise WavFormatError(f"{name}: WAV fmt chunk too short")
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == _EXTENSIBLE and size >= 26:
                tag = struct.unpack("<H", body[24:26])[0]  # first two bytes of the sub-format GUID
            fmt = (tag, channels, rate, bits)


def _header(name: str, tag: int, channels: int, rate: int, bits: int, size: int | None) -> WavHeader:
    if channels < 1 or rate < 1:
        raise WavFormatError(f"{name}: WAV header has {channels} channels at {rate} Hz")
    if tag == _PCM and bits in (8, 16, 24, 32):
        return WavHeader(rate, channels, bits // 8, False, size)
    if tag == _FLOAT and bits == 32:
        return WavHeader(rate, channels, 4, True, size)
    raise WavFormatError(f"{name}: unsupported WAV encoding (format tag {tag}, {bits} bits); "
                         "use 8/16/24/32-bit integer PCM or 32-bit float")


def to_int16(raw: bytes, header: WavHeader) -> np.ndarray:
    """Decode whole frames of ``raw`` to an int16 array shaped (frames, channels)."""
    width = header.sample_width
    if width == 2 and not header.is_float:
        samples = np.frombuffer(raw, dtype="<i2")
    elif header.is_float:
        samples = np.clip(np.frombuffer(raw, dtype="<f4") * 32768.0, -32768, 32767).astype(np.int16)
    elif width == 1:
        samples = ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        samples = (b[:, 1].astype(np.uint16) | (b[:, 2].astype(np.uint16) << 8)).view(np.int16)
    else:
        samples = (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    return samples.reshape(-1, header.channels)


def wav_header(rate: int, channels: int, data_size: int) -> bytes:
    """A 44-byte header for 16-bit PCM. ``data_size`` 0xFFFFFFFF means 'unknown' (a FIFO)."""
    riff_size = 0xFFFFFFFF if data_size == 0xFFFFFFFF else min(36 + data_size, 0xFFFFFFFF)
    block = 2 * channels
    return (b"RIFF" + struct.pack("<I", riff_size) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, _PCM, channels, rate, rate * block, block, 16)
            + b"data" + struct.pack("<I", min(data_size, 0xFFFFFFFF)))


# ------------------------------------------------------------------------------- whole files


def read_wav(path: str | Path, rate: int, *, channels: list[int] | None = None) -> bytes:
    """Read a WAV file as mono s16le at ``rate``: the chosen channels are averaged (default: all),
    and the audio is resampled with soxr when the file's rate differs."""
    with open(path, "rb") as f:
        header = read_wav_header(f.read, str(path))
        raw = f.read() if header.data_size is None else read_exact(f.read, header.data_size)
    picked = channels if channels is not None else list(range(header.channels))
    bad = [c for c in picked if c >= header.channels]
    if bad:
        raise WavFormatError(f"{path}: has {header.channels} channel(s); channel {bad[0]} does not exist")
    samples = to_int16(raw[:len(raw) - len(raw) % header.frame_bytes], header)
    mono = samples[:, picked].astype(np.float32).mean(axis=1) if len(picked) > 1 \
        else samples[:, picked[0]].astype(np.float32)
    if header.rate != rate:
        mono = soxr.resample(mono, header.rate, rate, quality="HQ")
    pcm: bytes = np.clip(np.round(mono), -32768, 32767).astype("<i2").tobytes()
    return pcm


def write_wav(path: str | Path, pcm: bytes, rate: int, channels: int = 1) -> None:
    """Write s16le ``pcm`` (interleaved when ``channels`` > 1) as a 16-bit PCM WAV file."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(wav_header(rate, channels, len(pcm)))
        f.write(pcm)
