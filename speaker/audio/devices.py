"""Sound devices as PortAudio sees them: listing (``speaker devices``, ``speaker check``), choosing one
from the settings, and re-scanning after a USB device comes back."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from speaker.errors import AudioDeviceError

log = logging.getLogger(__name__)

PROBE_RATES = (16000, 24000, 48000)
Direction = Literal["input", "output"]

_open_streams = 0
"""Streams this process holds open. PortAudio can only re-scan devices when it is zero."""


def portaudio() -> ModuleType:
    """The ``sounddevice`` module, with a useful error when the PortAudio library is missing."""
    try:
        import sounddevice
    except OSError as exc:  # sounddevice loads libportaudio at import time
        raise AudioDeviceError(f"the PortAudio library is missing ({exc}); install it with "
                               "'sudo apt install libportaudio2'") from exc
    module: ModuleType = sounddevice
    return module


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device. ``input_rates``/``output_rates`` are those of 16/24/48 kHz it accepts."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    input_rates: tuple[int, ...] = ()
    output_rates: tuple[int, ...] = ()
    default_input: bool = False
    default_output: bool = False

    def max_channels(self, direction: Direction) -> int:
        return self.max_input_channels if direction == "input" else self.max_output_channels

    def label(self, direction: Direction) -> str:
        return f"{self.index} {self.name!r} ({self.max_channels(direction)} ch)"


def accepts_format(sd: Any, direction: Direction, index: int, channels: int, rate: int) -> bool:
    """Whether the device opens with int16 audio of this many channels at this rate."""
    check = sd.check_input_settings if direction == "input" else sd.check_output_settings
    try:
        check(device=index, channels=channels, dtype="int16", samplerate=rate)
    except Exception:  # PortAudioError or ValueError, depending on what PortAudio disliked
        return False
    return True


def _accepts(sd: ModuleType, direction: Direction, index: int, rate: int, max_channels: int) -> bool:
    # raw ALSA devices of some arrays only open with all their channels, so try 1 and then all
    return any(accepts_format(sd, direction, index, channels, rate) for channels in sorted({1, max_channels}))


def _info(sd: ModuleType, raw: dict[str, Any], *, probe: bool) -> DeviceInfo:
    index = int(raw["index"])
    n_in, n_out = int(raw["max_input_channels"]), int(raw["max_output_channels"])
    defaults = list(sd.default.device)
    hostapis = sd.query_hostapis()
    rates_in = tuple(r for r in PROBE_RATES if probe and n_in and _accepts(sd, "input", index, r, n_in))
    rates_out = tuple(r for r in PROBE_RATES if probe and n_out and _accepts(sd, "output", index, r, n_out))
    return DeviceInfo(index=index, name=str(raw["name"]), hostapi=str(hostapis[raw["hostapi"]]["name"]),
                      max_input_channels=n_in, max_output_channels=n_out,
                      default_samplerate=float(raw["default_samplerate"]),
                      input_rates=rates_in, output_rates=rates_out,
                      default_input=defaults[0] == index, default_output=defaults[1] == index)


def list_devices(*, probe: bool = True) -> list[DeviceInfo]:
    """Every device PortAudio knows. ``probe`` also asks each which of 16/24/48 kHz it accepts (this
    opens devices briefly; a device busy in another program may then show no rates)."""
    sd = portaudio()
    try:
        return [_info(sd, dict(raw), probe=probe) for raw in sd.query_devices()]
    except sd.PortAudioError as exc:  # e.g. a re-scan that failed to initialise PortAudio again
        raise AudioDeviceError(f"PortAudio cannot list devices: {exc}") from exc


def no_device_hint(direction: Direction) -> str:
    tool = "arecord -l" if direction == "input" else "aplay -l"
    return (f"no audio {direction} device found: is a sound card connected? Check '{tool}', that this user is "
            "in the 'audio' group ('sudo usermod -aG audio $USER', then log in again), and for a HAT "
            "that its driver/overlay is installed")


def describe(devices: list[DeviceInfo], direction: Direction) -> str:
    """The 'available devices' sentence of error messages (or why there are none)."""
    usable = [d for d in devices if d.max_channels(direction) > 0]
    if not usable:
        return no_device_hint(direction)
    return f"available {direction} devices: " + ", ".join(d.label(direction) for d in usable)


def resolve_device(spec: str | int | None, direction: Direction) -> DeviceInfo:
    """Find the device the settings name: an index, a case-insensitive substring of the name (an exact
    name wins over a substring), or None for the system default. Raises AudioDeviceError naming the
    devices that do exist."""
    devices = list_devices(probe=False)
    usable = [d for d in devices if d.max_channels(direction) > 0]
    if not usable:
        raise AudioDeviceError(no_device_hint(direction))
    if spec is None:
        default = [d for d in usable if (d.default_input if direction == "input" else d.default_output)]
        if not default:
            raise AudioDeviceError(f"there is no default audio {direction} device; set audio.{direction}.device; "
                                   + describe(devices, direction))
        return default[0]
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        index = int(spec)
        for d in usable:
            if d.index == index:
                return d
        raise AudioDeviceError(f"audio {direction} device {index} does not exist or has no {direction} channels; "
                               + describe(devices, direction))
    wanted = spec.strip().lower()
    exact = [d for d in usable if d.name.lower() == wanted]
    matches = exact or [d for d in usable if wanted in d.name.lower()]
    if not matches:
        raise AudioDeviceError(f"no audio {direction} device matches {spec!r}; " + describe(devices, direction))
    if len(matches) > 1:
        log.info("audio %s device %r matches %s; using %s", direction, spec,
                 ", ".join(repr(d.name) for d in matches), matches[0].label(direction))
    return matches[0]


# ---------------------------------------------------------------------- re-scanning


def stream_opened() -> None:
    global _open_streams
    _open_streams += 1


def stream_closed() -> None:
    global _open_streams
    _open_streams = max(0, _open_streams - 1)


def close_stream(stream: Any, what: str) -> None:
    """Abort and close a PortAudio stream and count it as closed. A device that vanished may fail to
    close; it is gone either way, so that is only logged at debug."""
    try:
        stream.abort()
        stream.close()
    except Exception as exc:
        log.debug("closing the %s stream: %s", what, exc)
    finally:
        stream_closed()


def rescan_if_idle() -> bool:
    """Make PortAudio scan the devices again (it only does so at initialisation, so a USB array
    plugged back in under a new card number would stay invisible). PortAudio can only re-initialise
    when no stream is open, so this does nothing while one is; returns whether it re-scanned."""
    if _open_streams:
        return False
    sd = portaudio()
    sd._terminate()
    try:
        sd._initialize()
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"PortAudio failed to re-initialise: {exc}") from exc
    log.debug("PortAudio re-scanned the devices")
    return True


# ---------------------------------------------------------------------- `speaker devices`


def _rates(rates: tuple[int, ...]) -> str:
    return "/".join(str(r // 1000) for r in rates) + " kHz" if rates else "none of 16/24/48 kHz"


def print_devices() -> int:
    """Print input and output devices for ``speaker devices``. Exit code 0 even with none."""
    try:
        devices = list_devices()
    except AudioDeviceError as exc:
        print(f"speaker: {exc}", file=sys.stderr)
        return 1
    out = sys.stdout
    directions: tuple[Direction, ...] = ("input", "output")
    for d_ in directions:
        direction = str(d_)
        usable = [d for d in devices if d.max_channels(d_) > 0]
        print(f"{direction.capitalize()} devices:", file=out)
        if not usable:
            hint = no_device_hint(d_)
            print(f"  none. {hint[0].upper()}{hint[1:]}.", file=out)
        for d in usable:
            rates = d.input_rates if d_ == "input" else d.output_rates
            mark = "*" if (d.default_input if d_ == "input" else d.default_output) else " "
            print(f" {mark}{d.index:3d}  {d.name}", file=out)
            print(f"        {d.hostapi}, {d.max_channels(d_)} ch, default {d.default_samplerate:g} Hz, "
                  f"accepts {_rates(rates)}", file=out)
        print(file=out)
    print("* = system default. Use the index or part of the name as audio.input.device / "
          "audio.output.device; pick array channels with audio.input.channels.", file=out)
    return 0
