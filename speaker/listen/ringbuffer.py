"""A fixed-size byte ring for the pre-roll: the last N bytes of audio, no allocation per write."""

from __future__ import annotations


class RingBuffer:
    """Keeps the most recent ``capacity`` bytes written. Memory is allocated once."""

    __slots__ = ("_buf", "_capacity", "_filled", "_pos")

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must not be negative, not {capacity}")
        self._buf = bytearray(capacity)
        self._capacity = capacity
        self._pos = 0  # where the next byte goes
        self._filled = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return self._filled

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data``; the oldest bytes fall out once the ring is full."""
        n = len(data)
        cap = self._capacity
        if n >= cap:
            if cap:
                self._buf[:] = memoryview(data)[n - cap:]
                self._pos = 0
                self._filled = cap
            return
        pos = self._pos
        end = pos + n
        if end < cap:
            self._buf[pos:end] = data
            self._pos = end
        else:  # wraps (or ends exactly at the end)
            first = cap - pos
            view = memoryview(data)
            self._buf[pos:] = view[:first]
            self._buf[:n - first] = view[first:]
            self._pos = n - first
        if self._filled < cap:
            self._filled = min(cap, self._filled + n)

    def last(self, n: int) -> bytes:
        """The most recent ``n`` bytes (fewer if fewer were kept), oldest first."""
        n = min(max(n, 0), self._filled)
        if n == 0:
            return b""
        start = self._pos - n
        if start >= 0:
            return bytes(self._buf[start:self._pos])
        return bytes(self._buf[start:]) + bytes(self._buf[:self._pos])

    def clear(self) -> None:
        self._pos = 0
        self._filled = 0
