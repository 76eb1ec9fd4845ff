"""The speaker's state on the LEDs: a runner observer of ``StateChanged`` (nothing else)."""

from __future__ import annotations

import logging

from speaker.core import outputs as O
from speaker.core.base import Step
from speaker.core.state import State
from speaker.hardware.apa102 import Apa102, Color

log = logging.getLogger(__name__)

OFF: Color = (0, 0, 0)
BLUE: Color = (0, 40, 255)
AMBER: Color = (255, 110, 0)
GREEN: Color = (0, 255, 70)
CYAN: Color = (0, 200, 200)
RED: Color = (255, 0, 0)


def pattern(state: State, count: int) -> list[Color]:
    """What ``count`` LEDs show in ``state``: idle dark, listening blue, thinking amber, speaking green,
    an announcement cyan, muted red, error every other LED red (so it differs from muted)."""
    match state:
        case State.IDLE:
            return [OFF] * count
        case State.LISTENING:
            return [BLUE] * count
        case State.THINKING:
            return [AMBER] * count
        case State.SPEAKING:
            return [GREEN] * count
        case State.ANNOUNCING:
            return [CYAN] * count
        case State.MUTED:
            return [RED] * count
        case State.ERROR:
            return [RED if i % 2 == 0 else OFF for i in range(count)]
    return [OFF] * count


class LedObserver:
    """Shows each visible state; an SPI failure is logged once and the LEDs are left alone after it
    (the speaker goes on without them)."""

    def __init__(self, leds: Apa102) -> None:
        self._leds = leds
        self.failed = False

    def observe(self, step: Step, now: float) -> None:
        if isinstance(step, O.StateChanged):
            self.show(step.state)

    def show(self, state: State) -> None:
        if self.failed:
            return
        try:
            self._leds.show(pattern(state, self._leds.count))
        except OSError as exc:
            self.failed = True
            log.warning("LEDs: SPI write failed (%s); the LEDs stay as they are", exc)
