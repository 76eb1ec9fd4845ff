"""Jittered exponential backoff, shared by every reconnect loop (Realtime, MQTT).

The n-th delay is uniform in ``[f·c, c]`` with ``c = min(cap, base·factorⁿ)`` and ``f = min_fraction``:
0 is "full jitter" (spreads reconnecting clients best: several speakers in one house after a router
reboot), 0.5 "equal jitter" (never retries almost at once: kinder to a broker that is restarting).
``rng`` is injectable so tests get exact delays.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator


class Backoff:
    """An endless iterator of delays in seconds.

    >>> b = Backoff(base=1.0, factor=2.0, cap=5.0, rng=lambda: 1.0)
    >>> [next(b) for _ in range(5)]
    [1.0, 2.0, 4.0, 5.0, 5.0]
    """

    def __init__(self, base: float = 0.5, factor: float = 2.0, cap: float = 30.0, *,
                 rng: Callable[[], float] = random.random, min_fraction: float = 0.0) -> None:
        if base <= 0 or factor < 1 or cap < base:
            raise ValueError("need base > 0, factor >= 1 and cap >= base")
        if not 0.0 <= min_fraction <= 1.0:
            raise ValueError("min_fraction must be between 0 and 1")
        self.min_fraction = min_fraction
        self.base = base
        self.factor = factor
        self.cap = cap
        self._rng = rng
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._attempt

    def ceiling(self, attempt: int) -> float:
        """The upper bound of the ``attempt``-th delay (0-based), before jitter."""
        # stop multiplying once past the cap: factor**attempt overflows a float after ~1000 attempts
        bound = self.base
        for _ in range(attempt):
            bound *= self.factor
            if bound >= self.cap:
                return self.cap
        return min(bound, self.cap)

    def next_delay(self) -> float:
        """The next delay, jittered."""
        f = self.min_fraction
        delay = self.ceiling(self._attempt) * (f + (1.0 - f) * self._rng())
        self._attempt += 1
        return delay

    def reset(self) -> None:
        """Start again from ``base`` (after a connection that worked)."""
        self._attempt = 0

    def __iter__(self) -> Iterator[float]:
        return self

    def __next__(self) -> float:
        return self.next_delay()
