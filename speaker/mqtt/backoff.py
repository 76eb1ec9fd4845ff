"""Jittered exponential backoff for the reconnect loop."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delays of ``initial * 2**n`` capped at ``maximum``, each scaled by a random factor in
    [0.5, 1.0] so that many speakers losing the same broker do not reconnect in lock-step."""

    def __init__(self, initial: float, maximum: float, *, rand: Callable[[], float] = random.random) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("need 0 < initial <= maximum")
        self._initial = initial
        self._maximum = maximum
        self._rand = rand
        self._attempt = 0

    def reset(self) -> None:
        """Call after a successful connection: the next failure starts from ``initial`` again."""
        self._attempt = 0

    def next(self) -> float:
        """The delay before the next attempt (grows with each call until reset)."""
        base = min(self._maximum, self._initial * (2 ** min(self._attempt, 32)))
        self._attempt += 1
        return float(base * (0.5 + 0.5 * self._rand()))
