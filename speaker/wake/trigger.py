"""Score stream → detections. Shared by both engines so they fire by the same rules.

A model fires when its score rises above its threshold (a rising edge: the previous score was at or
below the threshold, or this is the first score) and its last detection is at least ``refractory_s``
ago. A rising edge inside the refractory period is swallowed, and the score must drop back to the
threshold before the model can fire again, so one utterance gives one event.

The reported score is the **crossing value**: the first score above the threshold. Waiting for the
maximum of the edge would delay every wake-up until the score falls again; we fire at once instead.
"""

from __future__ import annotations

import math

from speaker.listen.events import WakeDetected


class Trigger:
    """Rising-edge threshold with a refractory period, for one model."""

    __slots__ = ("_armed", "_last", "name", "refractory_s", "threshold")

    def __init__(self, name: str, threshold: float, refractory_s: float) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
        if refractory_s < 0:
            raise ValueError(f"refractory_s must not be negative, not {refractory_s}")
        self.name = name
        self.threshold = threshold
        self.refractory_s = refractory_s
        self._armed = True
        self._last = -math.inf

    def update(self, score: float, t: float) -> WakeDetected | None:
        """Feed one score observed at stream time ``t``; return a detection if it fires."""
        if score <= self.threshold:
            self._armed = True
            return None
        if not self._armed:
            return None
        self._armed = False
        if t - self._last < self.refractory_s:
            return None
        self._last = t
        return WakeDetected(model=self.name, score=float(score), t=t)

    def reset(self) -> None:
        """Forget the edge state and the last detection (stream time restarts)."""
        self._armed = True
        self._last = -math.inf
