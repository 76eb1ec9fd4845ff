"""A wake engine wrapper: which of the configured wake words are active (the Home Assistant select).
What a detection means (a conversation, or stopping a ringing timer) is the core's decision."""

from __future__ import annotations

import logging

from speaker.listen.events import WakeDetected
from speaker.wake.base import WakeEngine

log = logging.getLogger(__name__)


class WakeFilter:
    """Implements the WakeEngine port around ``engine``. Inactive models still run (the engine has no
    switch for them); their detections are dropped."""

    def __init__(self, engine: WakeEngine) -> None:
        self._engine = engine
        self.names: tuple[str, ...] = engine.names
        self.active: frozenset[str] | None = None
        """Display names that may fire; None = all."""

    def select(self, names: frozenset[str] | None) -> None:
        self.active = None if names is None or set(self.names) <= names else names
        log.info("wake words active: %s", ", ".join(sorted(self.active)) if self.active else "all")

    def process(self, pcm: bytes) -> list[WakeDetected]:
        detections = self._engine.process(pcm)
        if not detections:
            return detections
        if self.active is not None:
            detections = [d for d in detections if d.model in self.active]
        return detections

    def reset(self) -> None:
        self._engine.reset()

    def close(self) -> None:
        self._engine.close()
