"""The HAT as one async context manager (``hardware:`` settings): the LEDs follow the state, the button
posts stop/mute. ``board: none`` (the default) touches nothing. A board that cannot be opened (no SPI,
no GPIO, not a Pi, ``room-speaker[pi]`` not installed) is logged and left out: the speaker runs without."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from speaker.config.hardware import HardwareSettings
from speaker.core.base import Step
from speaker.core.events import CoreEvent
from speaker.core.state import State
from speaker.hardware.apa102 import Apa102, SpiPort, open_spidev
from speaker.hardware.button import ButtonPresses
from speaker.hardware.leds import LedObserver

log = logging.getLogger(__name__)


class Hardware:
    """A runner observer (the LEDs) and the button's source of events, while entered."""

    def __init__(self, settings: HardwareSettings, post: Callable[[CoreEvent], None], muted: Callable[[], bool],
                 *, spi: Callable[[int, int], SpiPort] = open_spidev, pin_factory: Any = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.settings = settings
        self._post = post
        self._muted = muted
        self._open_spi = spi
        self._pin_factory = pin_factory
        self._clock = clock
        self.leds: LedObserver | None = None
        self.presses: ButtonPresses | None = None
        self._port: SpiPort | None = None
        self._devices: list[Any] = []

    async def __aenter__(self) -> Self:
        s = self.settings
        if s.board == "none":
            return self
        if s.leds and s.led_count:
            self._open_leds()
        if s.button_gpio is not None:
            self._open_button(s.button_gpio)
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.leds is not None:
            self.leds.show(State.IDLE)  # dark when the daemon is gone
        for device in reversed(self._devices):
            device.close()
        self._devices.clear()
        if self._port is not None:
            self._port.close()
            self._port = None
        self.leds = None
        self.presses = None

    def observe(self, step: Step, now: float) -> None:
        if self.leds is not None:
            self.leds.observe(step, now)

    def _open_leds(self) -> None:
        s = self.settings
        try:
            if s.led_power_gpio is not None:
                from gpiozero import DigitalOutputDevice

                self._devices.append(DigitalOutputDevice(s.led_power_gpio, initial_value=True,
                                                         pin_factory=self._pin_factory))
            self._port = self._open_spi(s.spi_bus, s.spi_device)
        except (ImportError, OSError, RuntimeError) as exc:
            log.warning("LEDs of the %s unavailable (%s); install room-speaker[pi] and enable SPI "
                        "(dtparam=spi=on)", s.board, exc)
            return
        self.leds = LedObserver(Apa102(self._port, s.led_count, s.brightness))
        self.leds.show(State.MUTED if self._muted() else State.IDLE)
        log.info("LEDs: %d APA102 on /dev/spidev%d.%d", s.led_count, s.spi_bus, s.spi_device)

    def _open_button(self, pin: int) -> None:
        s = self.settings
        try:
            from gpiozero import Button
            from gpiozero.exc import GPIOZeroError

            try:
                button = Button(pin, pull_up=True, pin_factory=self._pin_factory)
            except GPIOZeroError as exc:
                raise RuntimeError(str(exc)) from exc
        except (ImportError, OSError, RuntimeError) as exc:
            log.warning("button on GPIO%d unavailable (%s)", pin, exc)
            return
        kwargs = {} if self._clock is None else {"clock": self._clock}
        self.presses = ButtonPresses(asyncio.get_running_loop(), self._post, self._muted, short=s.short_press,
                                     long=s.long_press, long_press_s=s.long_press_s, **kwargs)
        button.when_pressed = self.presses.pressed
        button.when_released = self.presses.released
        self._devices.append(button)
        log.info("button on GPIO%d: short press %s, long press (%.1f s) %s", pin, s.short_press,
                 s.long_press_s, s.long_press)
