"""The HAT's button: a short press and a long press (decided on release, by how long it was held), each
mapped to stop or a mute toggle (``hardware.short_press`` / ``long_press``) and posted to the core.

gpiozero calls ``pressed``/``released`` from its own thread: the events are handed to the event loop
with ``call_soon_threadsafe`` (the only thread crossing here)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from speaker.core.events import CoreEvent, SetMuted, Stop

log = logging.getLogger(__name__)


class ButtonPresses:
    def __init__(self, loop: asyncio.AbstractEventLoop, post: Callable[[CoreEvent], None],
                 muted: Callable[[], bool], *, short: str, long: str, long_press_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._loop = loop
        self._post = post
        self._muted = muted
        self._short = short
        self._long = long
        self._long_press_s = long_press_s
        self._clock = clock
        self._down_at: float | None = None

    def pressed(self) -> None:
        self._down_at = self._clock()

    def released(self) -> None:
        if self._down_at is None:
            return  # released without a press we saw (pressed at start)
        held = self._clock() - self._down_at
        self._down_at = None
        action = self._long if held >= self._long_press_s else self._short
        self._loop.call_soon_threadsafe(self._act, action, held)

    def _act(self, action: str, held: float) -> None:
        """On the event loop."""
        if action == "stop":
            log.info("button: stop (held %.1f s)", held)
            self._post(Stop("button"))
        elif action == "mute":
            muted = not self._muted()
            log.info("button: %s (held %.1f s)", "mute" if muted else "unmute", held)
            self._post(SetMuted(muted))
