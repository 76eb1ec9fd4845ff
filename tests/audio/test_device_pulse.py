"""Real sounddevice streams on a private PulseAudio server (no sound card needed).

What a user would notice: the microphone hears what is said into it, the speaker plays what is
written at the right level, a barge-in silences it at once, ``played_ms`` says how much was heard,
and an unplugged device is survived."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from speaker.audio.device_sink import DeviceSink
from speaker.audio.device_source import DeviceSource
from speaker.audio.format import MIC
from speaker.config.schema import AudioInputSettings, AudioOutputSettings
from speaker.errors import AudioDeviceError
from tests.audio.signals import dominant_hz, pcm, rms, samples, sounding, tone
from tests.helpers.pulse import HANG_S, Pulse, capture_playback, write_wav

pytestmark = pytest.mark.audio
log = logging.getLogger(__name__)


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(HANG_S):
        while not condition():  # noqa: ASYNC110 (polling a property of the code under test)
            await asyncio.sleep(0.01)


def sounding_count(x: np.ndarray) -> int:
    """Samples carrying sound: unlike the span from first to last, a gap cannot lengthen it."""
    return int(np.count_nonzero(sounding(x, 16000)))


def underrun_ms(sink: DeviceSink) -> float:
    """What device underflows may have cost: on a machine too busy to feed the card in time the
    device skips a little (the sink counts each one, and the daemon logs them); 10 ms allowed each."""
    if sink.underflows:
        log.info("%d device underflow(s) during the test", sink.underflows)
    return 10.0 * sink.underflows


def sound(x: np.ndarray) -> np.ndarray:
    """The samples carrying sound, joined: a gap of silence inside (a stream served late on a busy
    machine) must not lower the level or blur the pitch measured on it."""
    joined: np.ndarray = x[sounding(x, 16000)]
    return joined


async def test_microphone_hears_a_tone_played_into_it(pulse: Pulse, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "tone.wav", pcm(tone(440, 1.0, 16000, 0.5)))
    sizes: list[int] = []
    arrivals: list[tuple[float, int]] = []
    t_play = 0.0

    def play() -> subprocess.Popen[bytes]:
        nonlocal t_play
        t_play = time.monotonic()
        return pulse.play_into_mic(wav, wait=False)

    def seen(frame: bytes, at: int) -> None:
        sizes.append(len(frame))
        arrivals.append((time.monotonic(), at))

    async with DeviceSource(AudioInputSettings()) as source:
        assert source.capture_rate == 16000 and source.device is not None
        captured = samples(await capture_playback(source.frames(), play, on_frame=seen))
    assert set(sizes) == {MIC.bytes_for_ms(10)}
    assert sounding_count(captured) == pytest.approx(16000, abs=160)  # the whole second of tone arrived
    tone_part = sound(captured)
    onset = int(np.argmax(sounding(captured, 16000)))
    t_heard = next(t for t, at in arrivals if at + 160 > onset)
    log.info("capture latency (paplay start -> frame in hand): %.0f ms", 1000 * (t_heard - t_play))  # a figure
    assert dominant_hz(tone_part, 16000) == pytest.approx(440, abs=2)
    assert rms(tone_part) == pytest.approx(0.5 * 32767 / np.sqrt(2), rel=0.05)
    assert source.stats.dropped == 0


async def test_microphone_at_48k_with_two_channels_is_mixed_and_resampled(pulse: Pulse, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "tone.wav", pcm(tone(1000, 0.8, 16000, 0.5)))
    settings = AudioInputSettings(device="pulse", rate=48000, channels=[0, 1], block_ms=20)
    async with DeviceSource(settings) as source:
        assert source.capture_rate == 48000
        captured = samples(await capture_playback(source.frames(), lambda: pulse.play_into_mic(wav, wait=False)))
    assert sounding_count(captured) == pytest.approx(0.8 * 16000, abs=160)
    tone_part = sound(captured)
    assert dominant_hz(tone_part, 16000) == pytest.approx(1000, abs=2)
    assert rms(tone_part) == pytest.approx(0.5 * 32767 / np.sqrt(2), rel=0.05)


async def test_speaker_plays_what_is_written_at_the_expected_level(pulse: Pulse) -> None:
    sink_settings = AudioOutputSettings(volume=100)
    log.info("private PulseAudio: answering after %.0f ms, streams start promptly after %.0f ms",
             1000 * pulse.startup_s, 1000 * pulse.ready_s)
    recording = pulse.start_recording()  # an independent witness: parecord on vsink.monitor
    with pulse.capture() as cap:
        async with asyncio.timeout(HANG_S), DeviceSink(sink_settings) as sink:
            await cap.running()
            t_write = time.monotonic()
            sink.write(pcm(tone(440, 1.0, 24000, 0.4)))
            await sink.drain()
            t_drained = time.monotonic()
            # drain returns once the sink counts it all as heard, not when its buffer is handed over
            assert sink.played_ms == pytest.approx(1000, abs=1) and sink.written_ms == pytest.approx(1000)
            await cap.until_quiet()
    times, x = cap.samples()
    loud = sounding(x, 16000)
    assert loud.sum() / 16 == pytest.approx(1000, abs=10 + underrun_ms(sink))  # all of it
    onset = times[int(np.argmax(loud))]
    log.info("output start latency (write -> sound): %.0f ms; drain returned %.0f ms after the end",  # figures
             1000 * (onset - t_write), 1000 * (t_drained - (onset + 1.0)))
    tone_part = sound(x)
    assert dominant_hz(tone_part, 16000) == pytest.approx(440, abs=2)
    assert np.abs(tone_part).max() == pytest.approx(0.4 * 32767, rel=0.03)
    witness = samples(recording.stop())
    assert np.count_nonzero(sounding(witness, 16000)) / 16 == pytest.approx(1000, abs=10 + underrun_ms(sink))
    assert np.abs(witness).max() == pytest.approx(0.4 * 32767, rel=0.03)


async def test_clear_silences_quickly_and_played_ms_matches_what_was_heard(pulse: Pulse) -> None:
    with pulse.capture() as cap:
        async with asyncio.timeout(HANG_S), DeviceSink(AudioOutputSettings(volume=100)) as sink:
            await cap.running()
            sink.write(pcm(tone(440, 3.0, 24000, 0.4)))
            await wait_until(lambda: sink.played_ms >= 800)  # well into the 3 s tone
            t_clear = time.monotonic()
            played_at_clear = sink.played_ms
            sink.clear()
            await sink.drain()
            final_played = sink.played_ms
            assert sink.written_ms == pytest.approx(final_played, abs=1)
            await cap.until_quiet()
    times, x = cap.samples()
    loud = sounding(x, 16000)
    total_heard_ms = 1000 * loud.sum() / 16000
    heard_times = times[loud]
    log.info("clear -> silence %.0f ms; played_ms at clear %+.0f ms off what was heard by then",  # figures
             1000 * (heard_times[-1] - t_clear),
             played_at_clear - 1000 * np.count_nonzero(heard_times <= t_clear) / 16000)
    # in positions, not seconds: what still came out after clear() is what the device held then
    # (its buffer, well under 150 ms), not the rest of the 3 s
    assert 0 <= final_played - played_at_clear < 150
    slack = underrun_ms(sink)
    assert played_at_clear - 30 - slack < total_heard_ms < played_at_clear + 150
    assert final_played == pytest.approx(total_heard_ms, abs=30 + slack)  # the count a truncate sends is what was heard


async def test_speaker_resamples_for_a_48k_device_and_applies_the_volume(pulse: Pulse) -> None:
    with pulse.capture() as cap:
        async with asyncio.timeout(HANG_S), DeviceSink(AudioOutputSettings(rate=48000, volume=50)) as sink:
            assert sink.device_rate == 48000
            await cap.running()
            sink.write(pcm(tone(440, 0.5, 24000, 0.8)))
            await sink.drain()
            assert sink.played_ms == pytest.approx(500, abs=2)
            assert sink.written_ms == pytest.approx(500)
            await cap.until_quiet()
    _, x = cap.samples()
    assert sounding_count(x) / 16 == pytest.approx(500, abs=5 + underrun_ms(sink))
    part = sound(x)
    assert dominant_hz(part, 16000) == pytest.approx(440, abs=2)
    assert np.abs(part).max() == pytest.approx(0.8 * 0.25 * 32767, rel=0.03)  # 50 % = 0.25 gain


def test_speaker_devices_lists_the_virtual_devices(pulse: Pulse, capsys: pytest.CaptureFixture[str]) -> None:
    from speaker.audio.devices import list_devices, print_devices

    assert print_devices() == 0
    out = capsys.readouterr().out
    inputs, outputs = out.split("Output devices:")
    assert "default" in inputs and "pulse" in outputs
    assert "accepts 16/24/48 kHz" in inputs
    default = next(d for d in list_devices() if d.name == "default")
    assert default.default_input and default.input_rates == (16000, 24000, 48000)


async def test_a_missing_device_is_reported_with_the_devices_that_exist(pulse: Pulse) -> None:
    with pytest.raises(AudioDeviceError, match=r"no audio input device matches 'ReSpeaker'.*'default'"):
        async with DeviceSource(AudioInputSettings(device="ReSpeaker")):
            pass
    with pytest.raises(AudioDeviceError, match=r"no audio output device matches 'HDMI'.*'pulse'"):
        async with DeviceSink(AudioOutputSettings(device="HDMI")):
            pass
