"""The APA102 LED protocol, driven directly over an SPI port (``spidev`` on a Pi, a fake in tests).

One update is a start frame (32 zero bits), then per LED ``0xE0 | brightness`` (5-bit global
brightness) and the colour as blue, green, red, then an end frame of 1-bits: the data is delayed by half
a clock per LED down the chain, so at least ``count / 2`` more clock edges must follow (here at least 32
bits, enough for 64 LEDs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Color = tuple[int, int, int]
"""(red, green, blue), each 0-255."""
MAX_BRIGHTNESS = 31
SPI_HZ = 8_000_000


class SpiPort(Protocol):
    """What the LEDs need of an SPI device (``spidev.SpiDev`` has it)."""

    def xfer2(self, data: list[int]) -> object: ...

    def close(self) -> None: ...


def frame(colors: Sequence[Color], brightness: int) -> list[int]:
    """The bytes that set the LEDs to ``colors`` at ``brightness`` (1-31)."""
    if not 0 <= brightness <= MAX_BRIGHTNESS:
        raise ValueError(f"APA102 brightness is 0-{MAX_BRIGHTNESS}, not {brightness}")
    data = [0x00] * 4
    for red, green, blue in colors:
        data += [0xE0 | brightness, blue & 0xFF, green & 0xFF, red & 0xFF]
    return data + [0xFF] * max(4, (len(colors) + 15) // 16)


class Apa102:
    """A chain of ``count`` LEDs on ``port``; ``show`` sends only what changed."""

    def __init__(self, port: SpiPort, count: int, brightness: int) -> None:
        self._port = port
        self.count = count
        self._brightness = brightness
        self._shown: list[Color] | None = None

    def show(self, colors: Sequence[Color]) -> None:
        """Set every LED (a shorter list leaves the rest dark). Raises OSError when the port fails."""
        chain = [*colors[: self.count], *[(0, 0, 0)] * max(0, self.count - len(colors))]
        if chain == self._shown:
            return
        self._port.xfer2(frame(chain, self._brightness))
        self._shown = chain

    def off(self) -> None:
        self.show([])


def open_spidev(bus: int, device: int) -> SpiPort:
    """``/dev/spidev<bus>.<device>`` (needs ``spidev``: ``pip install room-speaker[pi]``)."""
    import spidev

    port = spidev.SpiDev()
    port.open(bus, device)
    port.max_speed_hz = SPI_HZ
    return port  # type: ignore[no-any-return]
