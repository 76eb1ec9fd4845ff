"""Jittered exponential backoff."""

from __future__ import annotations

import itertools
import random

import pytest

from speaker.backoff import Backoff


def test_ceiling_grows_by_factor_up_to_the_cap() -> None:
    b = Backoff(base=0.5, factor=2.0, cap=5.0, rng=lambda: 1.0)
    assert list(itertools.islice(b, 6)) == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert b.attempt == 6


def test_full_jitter_scales_the_ceiling() -> None:
    draws = iter([0.0, 0.25, 0.5, 0.75])
    b = Backoff(base=1.0, factor=3.0, cap=100.0, rng=lambda: next(draws))
    assert [b.next_delay() for _ in range(4)] == [0.0, 0.75, 4.5, 20.25]


def test_real_jitter_stays_in_bounds_and_varies() -> None:
    b = Backoff(base=1.0, factor=2.0, cap=8.0, rng=random.Random(7).random)
    delays = [b.next_delay() for _ in range(200)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    assert len(set(delays)) > 150  # not lockstep


def test_reset_starts_over() -> None:
    b = Backoff(base=1.0, factor=2.0, cap=30.0, rng=lambda: 1.0)
    for _ in range(4):
        b.next_delay()
    b.reset()
    assert b.attempt == 0 and b.next_delay() == 1.0


def test_many_attempts_do_not_overflow() -> None:
    assert Backoff(base=1.0, factor=10.0, cap=60.0).ceiling(10_000) == 60.0


@pytest.mark.parametrize(("base", "factor", "cap"), [(0.0, 2.0, 1.0), (1.0, 0.5, 10.0), (10.0, 2.0, 1.0)])
def test_nonsense_is_refused(base: float, factor: float, cap: float) -> None:
    with pytest.raises(ValueError):
        Backoff(base, factor, cap)
