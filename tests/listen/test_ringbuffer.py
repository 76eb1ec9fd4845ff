"""The pre-roll ring keeps exactly the most recent bytes, whatever the write sizes."""

from __future__ import annotations

import random

import pytest

from speaker.listen.ringbuffer import RingBuffer


def test_keeps_the_last_capacity_bytes_across_random_writes() -> None:
    rnd = random.Random(7)
    ring = RingBuffer(1000)
    reference = b""
    for _ in range(2000):
        chunk = rnd.randbytes(rnd.choice([0, 1, 2, 320, 999, 1000, 1001, 2500, rnd.randrange(1, 1500)]))
        ring.write(chunk)
        reference = (reference + chunk)[-1000:]
        assert len(ring) == len(reference)
        n = rnd.randrange(0, 1200)
        expected = reference[-n:] if n else b""
        assert ring.last(n) == expected


def test_last_before_the_ring_is_full_returns_what_was_written() -> None:
    ring = RingBuffer(10)
    ring.write(b"abc")
    assert ring.last(10) == b"abc"
    assert ring.last(2) == b"bc"
    assert ring.last(-1) == b""


def test_write_ending_exactly_at_the_end_and_wrapping() -> None:
    ring = RingBuffer(6)
    ring.write(b"abcdef")
    ring.write(b"gh")
    assert ring.last(6) == b"cdefgh"
    ring.write(b"ijkl")  # ends exactly at the end of the storage
    assert ring.last(6) == b"ghijkl"
    ring.write(memoryview(b"mnop"))
    assert ring.last(6) == b"klmnop"


def test_clear_and_zero_capacity() -> None:
    ring = RingBuffer(4)
    ring.write(b"abcd")
    ring.clear()
    assert len(ring) == 0 and ring.last(4) == b""
    empty = RingBuffer(0)
    empty.write(b"abc")
    assert len(empty) == 0 and empty.last(3) == b""
    with pytest.raises(ValueError):
        RingBuffer(-1)


def test_storage_is_allocated_once() -> None:
    ring = RingBuffer(3200)
    storage = ring._buf
    for i in range(1000):
        ring.write(bytes([i % 256]) * 320)
    assert ring._buf is storage and len(storage) == 3200
