"""The ReSpeaker HAT without the HAT: the APA102 bytes on a fake SPI port, the button through gpiozero's
own mock pin factory, the LEDs driven by the states a real core decides."""

from __future__ import annotations

import asyncio
import logging

import pytest

pytest.importorskip("gpiozero", reason="gpiozero is not installed (pip install -e .[dev])")
from gpiozero.pins.mock import MockFactory

from speaker.config.hardware import HardwareSettings
from speaker.core import outputs as O
from speaker.core.events import CoreEvent, PlaybackDrained, SetMuted, Stop
from speaker.core.state import State
from speaker.hardware.apa102 import Apa102, frame
from speaker.hardware.board import Hardware
from speaker.hardware.leds import AMBER, BLUE, GREEN, OFF, RED
from tests.core.test_conversation import Driver
from tests.timers.support import FakeClock


class FakeSpi:
    def __init__(self, fail: bool = False) -> None:
        self.writes: list[list[int]] = []
        self.closed = False
        self.fail = fail

    def xfer2(self, data: list[int]) -> None:
        if self.fail:
            raise OSError("spi gone")
        self.writes.append(list(data))

    def close(self) -> None:
        self.closed = True


def colors(write: list[int], count: int) -> list[tuple[int, int, int]]:
    """Decode one APA102 update back to (r, g, b) per LED."""
    body = write[4:4 + 4 * count]
    return [(body[i + 3], body[i + 2], body[i + 1]) for i in range(0, len(body), 4)]


def test_the_apa102_frame_is_start_then_brightness_bgr_per_led_then_end() -> None:
    data = frame([(255, 0, 0), (0, 255, 0), (1, 2, 3)], brightness=5)
    assert data[:4] == [0, 0, 0, 0]
    assert data[4:16] == [0xE5, 0, 0, 255, 0xE5, 0, 255, 0, 0xE5, 3, 2, 1]
    assert data[16:] == [0xFF] * 4
    assert len(frame([(0, 0, 0)] * 12, 31)) == 4 + 48 + 4
    with pytest.raises(ValueError, match="0-31"):
        frame([], 32)


def test_unchanged_colours_are_not_sent_again() -> None:
    spi = FakeSpi()
    leds = Apa102(spi, 3, 8)
    leds.show([BLUE] * 3)
    leds.show([BLUE] * 3)
    leds.off()
    assert [colors(w, 3) for w in spi.writes] == [[BLUE] * 3, [OFF] * 3]


async def open_board(board: str, spi: FakeSpi, *, muted: bool = False, **options: object
                     ) -> tuple[Hardware, MockFactory, FakeClock, asyncio.Queue[CoreEvent]]:
    queue: asyncio.Queue[CoreEvent] = asyncio.Queue()
    factory, clock = MockFactory(), FakeClock()
    hw = Hardware(HardwareSettings.model_validate({"board": board, **options}), queue.put_nowait,
                  lambda: muted, spi=lambda bus, device: spi, pin_factory=factory, clock=clock)
    await hw.__aenter__()
    return hw, factory, clock, queue


async def test_the_leds_follow_the_states_a_real_conversation_goes_through() -> None:
    spi = FakeSpi()
    hw, *_ = await open_board("respeaker_2mic", spi)
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    out = d.reply()
    token = next(a.token for a in out if hasattr(a, "token"))
    d.sink.play(1000)
    d.feed(PlaybackDrained(token))
    d.feed(Stop())
    for step in d.log:
        hw.observe(step, 0.0)
    shown = [colors(w, 3)[0] for w in spi.writes]
    assert shown == [OFF, BLUE, AMBER, GREEN, BLUE, OFF]  # idle, listening, thinking, speaking, follow-up, idle
    await hw.__aexit__(None, None, None)
    assert spi.closed


async def test_muted_and_error_look_different() -> None:
    spi = FakeSpi()
    hw, *_ = await open_board("respeaker_2mic", spi, muted=True)
    hw.observe(O.StateChanged(State.ERROR), 0.0)
    assert colors(spi.writes[0], 3) == [RED] * 3  # starts muted: red
    assert colors(spi.writes[1], 3) == [RED, OFF, RED]
    await hw.__aexit__(None, None, None)
    assert colors(spi.writes[-1], 3) == [OFF] * 3  # dark when the daemon stops


async def test_a_short_press_stops_and_a_long_press_toggles_mute() -> None:
    hw, factory, clock, queue = await open_board("respeaker_2mic", FakeSpi())
    pin = factory.pin(17)
    pin.drive_low()
    clock.advance(0.2)
    pin.drive_high()
    assert await asyncio.wait_for(queue.get(), 5) == Stop("button")
    pin.drive_low()
    clock.advance(1.5)
    pin.drive_high()
    assert await asyncio.wait_for(queue.get(), 5) == SetMuted(True)
    await hw.__aexit__(None, None, None)


async def test_a_long_press_unmutes_a_muted_speaker_and_the_mapping_is_configurable() -> None:
    hw, factory, clock, queue = await open_board("respeaker_2mic", FakeSpi(), muted=True,
                                                 short_press="mute", long_press="none", button_pin=27)
    pin = factory.pin(27)
    pin.drive_low()
    clock.advance(0.1)
    pin.drive_high()
    assert await asyncio.wait_for(queue.get(), 5) == SetMuted(False)
    pin.drive_low()
    clock.advance(3)
    pin.drive_high()
    pin.drive_low()
    clock.advance(0.1)
    pin.drive_high()
    assert await asyncio.wait_for(queue.get(), 5) == SetMuted(False)  # the long press did nothing
    assert queue.empty()
    await hw.__aexit__(None, None, None)


async def test_the_4mic_array_powers_its_12_leds_and_has_no_button() -> None:
    spi = FakeSpi()
    hw, factory, _, _ = await open_board("respeaker_4mic", spi)
    assert factory.pin(5).state  # the LED power pin is high
    hw.observe(O.StateChanged(State.LISTENING), 0.0)
    assert colors(spi.writes[-1], 12) == [BLUE] * 12
    assert hw.presses is None
    await hw.__aexit__(None, None, None)


async def test_board_none_touches_nothing() -> None:
    opened: list[tuple[int, int]] = []
    hw = Hardware(HardwareSettings(), lambda e: None, lambda: False,
                  spi=lambda bus, device: opened.append((bus, device)) or FakeSpi(), pin_factory=MockFactory())
    async with hw:
        hw.observe(O.StateChanged(State.LISTENING), 0.0)
    assert opened == [] and hw.leds is None


async def test_missing_spi_or_a_failing_write_leaves_the_speaker_running(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)

    def no_spi(bus: int, device: int) -> FakeSpi:
        raise FileNotFoundError("/dev/spidev0.1")

    hw = Hardware(HardwareSettings(board="respeaker_2mic"), lambda e: None, lambda: False, spi=no_spi,
                  pin_factory=MockFactory())
    async with hw:
        hw.observe(O.StateChanged(State.LISTENING), 0.0)
        assert hw.leds is None and hw.presses is not None  # the button still works
    assert "enable SPI" in caplog.text
    spi = FakeSpi()
    hw, *_ = await open_board("respeaker_2mic", spi)
    spi.fail = True
    hw.observe(O.StateChanged(State.LISTENING), 0.0)
    hw.observe(O.StateChanged(State.THINKING), 0.0)
    assert caplog.text.count("SPI write failed") == 1
    await hw.__aexit__(None, None, None)
