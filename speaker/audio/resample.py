"""Streaming sample-rate conversion of mono s16le PCM (soxr)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import soxr

Quality = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]

_EMPTY = np.zeros(0, dtype=np.int16)


class StreamResampler:
    """Resample a stream of mono int16 PCM chunk by chunk, keeping filter state between chunks so
    chunk boundaries are inaudible.

    ``process`` may return less (or more) than the ideal ``len * out_rate / in_rate`` for a given
    chunk because the filter holds a few milliseconds back; ``flush`` returns that tail at the end of
    a stream. When the rates are equal, bytes pass straight through. An odd trailing byte (a FIFO read
    that split a sample) is kept for the next call rather than corrupting the stream."""

    def __init__(self, in_rate: int, out_rate: int, *, quality: Quality = "HQ") -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive (got {in_rate} -> {out_rate})")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._quality: Quality = quality
        self._stream: soxr.ResampleStream | None = self._new_stream()
        self._odd = b""

    @property
    def passthrough(self) -> bool:
        return self._stream is None

    def _new_stream(self) -> soxr.ResampleStream | None:
        if self.in_rate == self.out_rate:
            return None
        return soxr.ResampleStream(self.in_rate, self.out_rate, 1, dtype="int16", quality=self._quality)

    def process(self, pcm: bytes) -> bytes:
        """Resample one chunk; returns what the filter can release so far."""
        if self._odd:
            pcm = self._odd + pcm
            self._odd = b""
        if len(pcm) % 2:
            self._odd = pcm[-1:]
            pcm = pcm[:-1]
        if self._stream is None:
            return pcm
        if not pcm:
            return b""
        out: np.ndarray = self._stream.resample_chunk(np.frombuffer(pcm, dtype="<i2"))
        return out.tobytes()

    def process_array(self, samples: np.ndarray) -> np.ndarray:
        """Resample int16 samples (no byte round trip; for callers that already hold an array)."""
        if self._stream is None or samples.size == 0:
            return samples
        out: np.ndarray = self._stream.resample_chunk(samples.astype(np.int16, copy=False))
        return out

    def flush(self) -> bytes:
        """End of stream: return the filter's tail and start afresh for the next stream."""
        self._odd = b""
        if self._stream is None:
            return b""
        out: np.ndarray = self._stream.resample_chunk(_EMPTY, last=True)
        self._stream = self._new_stream()
        return out.tobytes()

    def reset(self) -> None:
        """Forget buffered input without returning it (after a barge-in ``clear``)."""
        self._odd = b""
        self._stream = self._new_stream()
