"""Device listing and choosing: the messages a user sees when the device is not there."""

from __future__ import annotations

import pytest

from speaker.audio import devices
from speaker.audio.devices import DeviceInfo, print_devices, resolve_device
from speaker.errors import AudioDeviceError

ARRAY = DeviceInfo(2, "ReSpeaker 4 Mic Array (UAC1.0): USB Audio (hw:2,0)", "ALSA", 6, 2, 16000.0,
                   input_rates=(16000,), output_rates=(16000,))
JACK = DeviceInfo(0, "bcm2835 Headphones: - (hw:0,0)", "ALSA", 0, 8, 48000.0, output_rates=(48000,),
                  default_output=True)
DEFAULT = DeviceInfo(5, "default", "ALSA", 32, 32, 44100.0, (16000, 24000, 48000), (16000, 24000, 48000),
                     default_input=True, default_output=True)


@pytest.fixture
def fake_devices(monkeypatch: pytest.MonkeyPatch) -> list[DeviceInfo]:
    listed: list[DeviceInfo] = [JACK, ARRAY, DEFAULT]
    monkeypatch.setattr(devices, "list_devices", lambda probe=True: list(listed))
    return listed


def test_names_match_case_insensitively_and_exact_names_win(fake_devices: list[DeviceInfo]) -> None:
    assert resolve_device("respeaker", "input") is ARRAY
    assert resolve_device("DEFAULT", "input") is DEFAULT
    assert resolve_device(2, "input") is ARRAY
    assert resolve_device("2", "input") is ARRAY
    assert resolve_device(None, "input") is DEFAULT
    assert resolve_device("headphones", "output") is JACK


def test_a_missing_device_error_lists_what_exists(fake_devices: list[DeviceInfo]) -> None:
    with pytest.raises(AudioDeviceError) as err:
        resolve_device("seeed-2mic", "input")
    text = str(err.value)
    assert "no audio input device matches 'seeed-2mic'" in text
    assert "2 'ReSpeaker 4 Mic Array (UAC1.0): USB Audio (hw:2,0)' (6 ch)" in text
    assert "Headphones" not in text  # output-only devices are not offered as microphones
    with pytest.raises(AudioDeviceError, match="device 0 does not exist or has no input channels"):
        resolve_device(0, "input")
    assert err.value.retryable


def test_no_devices_at_all_gives_a_hint(fake_devices: list[DeviceInfo]) -> None:
    fake_devices.clear()
    with pytest.raises(AudioDeviceError, match=r"no audio input device found.*arecord -l.*'audio' group"):
        resolve_device(None, "input")
    with pytest.raises(AudioDeviceError, match="aplay -l"):
        resolve_device("anything", "output")


def test_print_devices_without_devices_explains_and_succeeds(fake_devices: list[DeviceInfo],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    fake_devices.clear()
    assert print_devices() == 0
    out = capsys.readouterr().out
    assert "Input devices:\n  none. No audio input device found" in out
    assert "arecord -l" in out and "aplay -l" in out and "usermod -aG audio $USER" in out


def test_print_devices_shows_rates_channels_and_defaults(fake_devices: list[DeviceInfo],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert print_devices() == 0
    out = capsys.readouterr().out
    inputs, outputs = out.split("Output devices:")
    assert "ReSpeaker" in inputs and "Headphones" not in inputs and "Headphones" in outputs
    assert "6 ch, default 16000 Hz, accepts 16 kHz" in inputs
    assert "*  5  default" in inputs
    assert "accepts 16/24/48 kHz" in outputs


async def test_channels_beyond_the_device_are_refused_before_opening(fake_devices: list[DeviceInfo]) -> None:
    from speaker.audio.device_source import DeviceSource
    from speaker.config.schema import AudioInputSettings

    with pytest.raises(AudioDeviceError, match=r"channels \[1, 6\] needs 7 channels but input device 2 "):
        async with DeviceSource(AudioInputSettings(device="respeaker", channels=[1, 6])):
            pass
