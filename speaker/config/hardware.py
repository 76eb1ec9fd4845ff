"""Settings of ``hardware:``: the LEDs and the button of a ReSpeaker HAT on a Raspberry Pi."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from speaker.config.section import Section

Board = Literal["none", "respeaker_2mic", "respeaker_4mic"]
PressAction = Literal["stop", "mute", "none"]

BOARD_NAMES = {"respeaker_2mic": "ReSpeaker 2-Mics Pi HAT", "respeaker_4mic": "ReSpeaker 4-Mic Array for Pi"}
"""What each board is called (the device's hw_version in Home Assistant)."""
LED_COUNT = {"respeaker_2mic": 3, "respeaker_4mic": 12}
BUTTON_PIN = {"respeaker_2mic": 17}
"""The button's BCM pin on each board (the 4-mic array has no button)."""
LED_POWER_PIN = {"respeaker_4mic": 5}
"""A BCM pin that must be high to power the LEDs."""


class HardwareSettings(Section):
    """The HAT's APA102 LEDs (SPI) show the speaker's state; its button stops (short press) or toggles the
    microphone mute (long press). Off by default: on other boards nothing is touched."""

    board: Board = "none"
    """none | respeaker_2mic (3 LEDs, button on GPIO17) | respeaker_4mic (12 LEDs, no button)."""
    leds: bool = True
    """Drive the board's LEDs from the speaker's state (needs SPI enabled: dtparam=spi=on)."""
    brightness: int = Field(default=8, ge=1, le=31)
    """The APA102 global brightness (1-31)."""
    spi_bus: int = Field(default=0, ge=0)
    """The LEDs' SPI bus (/dev/spidev<bus>.<device>)."""
    spi_device: int = Field(default=1, ge=0)
    """The LEDs' SPI chip select; both HATs use /dev/spidev0.1."""
    button: bool = True
    """Use the board's button (where it has one)."""
    button_pin: int | None = Field(default=None, ge=0, le=27)
    """The button's BCM pin; null = the board's (GPIO17 on the 2-mic HAT)."""
    short_press: PressAction = "stop"
    """What a short press does: stop (the reply, the conversation, a ringing timer), mute (toggle) or none."""
    long_press: PressAction = "mute"
    """What a press held for long_press_s does."""
    long_press_s: float = Field(default=1.0, gt=0, le=10)
    """A press held at least this long is a long press (decided when the button is released)."""

    @property
    def led_count(self) -> int:
        return LED_COUNT.get(self.board, 0)

    @property
    def button_gpio(self) -> int | None:
        if not self.button or self.board == "none":
            return None
        return self.button_pin if self.button_pin is not None else BUTTON_PIN.get(self.board)

    @property
    def led_power_gpio(self) -> int | None:
        return LED_POWER_PIN.get(self.board)
