"""The jitter buffer between the event loop and a sound card's output callback.

Pure logic with an injected clock, so it is tested without a device. The loop pushes audio and
clears it; the PortAudio thread renders blocks from it. One lock guards the shared state and is held
only for bookkeeping, never for the arithmetic on samples."""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

_RECORDS = 1024
"""Blocks remembered for the played-position estimate: more than any device latency spans."""


class Playout:
    """Mono int16 audio at the device ``rate`` waiting to be played, plus where playback really is.

    - Playback of a run of audio starts once ``prefill_ms`` is queued or the first of it has waited
      ``prefill_ms``: a tiny cushion against the next chunk arriving a little late.
    - A run fades in over ``fade_ms``; when the buffer runs dry (end of a reply or an underrun) the
      last ``fade_ms`` fade out and the rest of the block is silence, so neither end clicks.
    - ``clear`` keeps only a ``fade_ms`` fade-out of what would have played next.
    - ``played(now)`` is the number of frames that have reached the listener: each rendered block is
      remembered with the time its first frame reaches the DAC (callback time + the device's
      reported output delay), so audio still inside the device does not count as played."""

    def __init__(self, rate: int, *, fade_ms: float = 5.0, prefill_ms: float = 20.0) -> None:
        self.rate = rate
        self.gain = 1.0
        self._lock = threading.Lock()
        self._chunks: deque[np.ndarray] = deque()
        self._head = 0
        self._queued = 0
        self._consumed = 0
        self._records: deque[tuple[float, int, int]] = deque(maxlen=_RECORDS)
        self._played_hi = 0
        self._fade = max(1, int(rate * fade_ms / 1000))
        self._ramp_in = (np.arange(self._fade, dtype=np.float32) + 1) / (self._fade + 1)
        self._ramp_out = self._ramp_in[::-1].copy()
        self._fade_pos = self._fade
        self._prefill = int(rate * prefill_ms / 1000)
        self._prefill_s = prefill_ms / 1000
        self._running = False
        self._waiting_since: float | None = None

    # ------------------------------------------------------------------ event loop side

    def push(self, samples: np.ndarray, now: float) -> None:
        """Queue int16 mono samples."""
        if samples.size == 0:
            return
        with self._lock:
            self._chunks.append(samples)
            self._queued += samples.size
            if self._waiting_since is None and not self._running:
                self._waiting_since = now

    def clear(self) -> int:
        """Drop queued audio except a short fade-out; returns the frames dropped."""
        with self._lock:
            if not self._running:
                dropped = self._queued
                tail = np.zeros(0, dtype=np.int16)
            else:
                tail = self._take(min(self._fade, self._queued))
                dropped = self._queued
            self._chunks.clear()
            self._head = 0
            self._queued = 0
            self._waiting_since = None
            if tail.size:
                faded = tail.astype(np.float32) * self._ramp_out[-tail.size:]
                self._chunks.append(np.rint(faded).astype(np.int16))
                self._queued = tail.size
        return dropped

    @property
    def queued(self) -> int:
        """Frames in this buffer (not yet handed to the device)."""
        return self._queued

    @property
    def consumed(self) -> int:
        """Frames handed to the device so far."""
        return self._consumed

    def played(self, now: float) -> int:
        """Frames that had reached the DAC at ``now`` (never decreases)."""
        with self._lock:
            played = self._consumed if not self._records else self._records[0][1]
            for dac_time, before, n in reversed(self._records):
                if dac_time <= now:
                    played = before + min(n, int((now - dac_time) * self.rate))
                    break
            self._played_hi = max(self._played_hi, played)
            return self._played_hi

    def idle(self, now: float) -> bool:
        """Nothing queued and everything handed over has played."""
        return self._queued == 0 and self.played(now) >= self._consumed

    # ------------------------------------------------------------------ audio thread side

    def render(self, out: np.ndarray, now: float, dac_delay: float) -> int:
        """Fill ``out`` (frames × channels, int16) with the next audio, silence where there is none.
        ``now`` is the callback time, ``dac_delay`` how long until ``out[0]`` is heard. Returns the
        frames of audio (not silence) rendered."""
        frames = out.shape[0]
        with self._lock:
            if not self._running and self._queued and (
                    self._queued >= self._prefill
                    or (self._waiting_since is not None and now - self._waiting_since >= self._prefill_s)):
                self._running = True
                self._fade_pos = 0
                self._waiting_since = None
            block = self._take(min(frames, self._queued)) if self._running else None
            k = 0 if block is None else block.size
            fade_in_from = self._fade_pos
            fade_in = min(k, self._fade - self._fade_pos)
            self._fade_pos += fade_in
            ran_dry = self._running and self._queued == 0
            if ran_dry:
                self._running = False
            if k:
                self._records.append((now + dac_delay, self._consumed, k))
                self._consumed += k
            gain = self.gain
        if block is None or k == 0:
            out.fill(0)
            return 0
        if fade_in or ran_dry or gain != 1.0:
            shaped = block.astype(np.float32)
            if fade_in:
                shaped[:fade_in] *= self._ramp_in[fade_in_from:fade_in_from + fade_in]
            if ran_dry:
                tail = min(k, self._fade)
                shaped[k - tail:] *= self._ramp_out[self._fade - tail:]
            if gain != 1.0:
                shaped *= gain
            block = np.clip(np.rint(shaped), -32768, 32767).astype(np.int16)
        out[:k] = block[:, None]
        out[k:] = 0
        return k

    def _take(self, n: int) -> np.ndarray:
        """Remove the next ``n`` frames (caller holds the lock and checked they are there)."""
        parts: list[np.ndarray] = []
        need = n
        while need:
            chunk = self._chunks[0]
            avail = chunk.size - self._head
            if avail <= need:
                parts.append(chunk[self._head:])
                self._chunks.popleft()
                self._head = 0
                need -= avail
            else:
                parts.append(chunk[self._head:self._head + need])
                self._head += need
                need = 0
        self._queued -= n
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
