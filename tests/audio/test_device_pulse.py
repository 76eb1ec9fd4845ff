"""Real sounddevice streams on a private PulseAudio server (no sound card needed).

What a user would notice: the microphone hears what is said into it, the speaker plays what is
written at the right level, a barge-in silences it at once, ``played_ms`` says how much was heard,
and an unplugged device is survived."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import numpy as np
import pytest

from speaker.audio.device_sink import DeviceSink
from speaker.audio.device_source import DeviceSource
from speaker.audio.factory import ResilientSource
from speaker.audio.format import MIC
from speaker.config.schema import AudioInputSettings, AudioOutputSettings
from speaker.errors import AudioDeviceError
from tests.audio.signals import dominant_hz, pcm, rms, samples, sounding, sounding_part, tone
from tests.helpers.pulse import Pulse, write_wav

pytestmark = pytest.mark.audio
log = logging.getLogger(__name__)


async def capture_while(source: DeviceSource | ResilientSource, seconds: float,
                        stamps: list[tuple[float, bytes]] | None = None) -> bytes:
    """Frames from ``source`` for ``seconds`` of wall time (each stamped with its arrival)."""
    out = bytearray()
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    frames = source.frames()
    async with asyncio.timeout(seconds + 5):
        while loop.time() < end:
            frame = await anext(frames)
            out += frame
            if stamps is not None:
                stamps.append((time.monotonic(), frame))
    return bytes(out)


def first_loud_time(stamps: list[tuple[float, bytes]], threshold: float = 2000) -> float | None:
    for t, frame in stamps:
        if rms(samples(frame)) > threshold:
            return t
    return None


async def test_microphone_hears_a_tone_played_into_it(pulse: Pulse, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "tone.wav", pcm(tone(440, 1.0, 16000, 0.5)))
    stamps: list[tuple[float, bytes]] = []
    async with DeviceSource(AudioInputSettings()) as source:
        assert source.capture_rate == 16000 and source.device is not None
        task = asyncio.create_task(capture_while(source, 2.0, stamps))
        await asyncio.sleep(0.2)
        t_play = time.monotonic()
        player = pulse.play_into_mic(wav, wait=False)
        captured = samples(await task)
        player.wait(timeout=5)
    assert all(len(f) == MIC.bytes_for_ms(10) for _, f in stamps)
    tone_part = sounding_part(captured, 16000)
    assert tone_part.size == pytest.approx(16000, abs=160)  # the whole second of tone arrived
    t_heard = first_loud_time(stamps)
    assert t_heard is not None
    log.info("capture latency (paplay start -> frame in hand): %.0f ms", 1000 * (t_heard - t_play))
    assert t_heard - t_play < 0.5
    assert dominant_hz(tone_part, 16000) == pytest.approx(440, abs=2)
    assert rms(tone_part) == pytest.approx(0.5 * 32767 / np.sqrt(2), rel=0.05)
    assert source.stats.dropped == 0


async def test_microphone_at_48k_with_two_channels_is_mixed_and_resampled(pulse: Pulse, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "tone.wav", pcm(tone(1000, 0.8, 16000, 0.5)))
    settings = AudioInputSettings(device="pulse", rate=48000, channels=[0, 1], block_ms=20)
    async with DeviceSource(settings) as source:
        assert source.capture_rate == 48000
        task = asyncio.create_task(capture_while(source, 1.6))
        await asyncio.sleep(0.2)
        pulse.play_into_mic(wav, wait=False)
        captured = samples(await task)
    tone_part = sounding_part(captured, 16000)
    assert tone_part.size == pytest.approx(0.8 * 16000, abs=160)
    assert dominant_hz(tone_part, 16000) == pytest.approx(1000, abs=2)
    assert rms(tone_part) == pytest.approx(0.5 * 32767 / np.sqrt(2), rel=0.05)


async def test_speaker_plays_what_is_written_at_the_expected_level(pulse: Pulse) -> None:
    sink_settings = AudioOutputSettings(volume=100)
    log.info("private PulseAudio: answering after %.0f ms, streams start promptly after %.0f ms",
             1000 * pulse.startup_s, 1000 * pulse.ready_s)
    recording = pulse.start_recording()  # an independent witness: parecord on vsink.monitor
    with pulse.capture() as cap:
        async with asyncio.timeout(10), DeviceSink(sink_settings) as sink:
            await asyncio.sleep(0.1)
            t_write = time.monotonic()
            sink.write(pcm(tone(440, 1.0, 24000, 0.4)))
            await sink.drain()
            t_drained = time.monotonic()
            assert sink.played_ms == pytest.approx(1000, abs=1)
            await asyncio.sleep(0.1)
    times, x = cap.samples()
    loud = sounding(x, 16000)
    assert loud.sum() / 16 == pytest.approx(1000, abs=10)  # all of it
    onset = times[int(np.argmax(loud))]
    log.info("output start latency (write -> sound): %.0f ms; drain returned %.0f ms after the end",
                1000 * (onset - t_write), 1000 * (t_drained - (onset + 1.0)))
    assert onset - t_write < 0.15
    assert -0.03 < t_drained - (onset + 1.0) < 0.1  # drain waits for the sound, not just the buffer
    tone_part = sounding_part(x, 16000)
    assert dominant_hz(tone_part, 16000) == pytest.approx(440, abs=2)
    assert np.abs(tone_part).max() == pytest.approx(0.4 * 32767, rel=0.03)
    witness = samples(recording.stop())
    assert np.count_nonzero(sounding(witness, 16000)) / 16 == pytest.approx(1000, abs=10)
    assert np.abs(witness).max() == pytest.approx(0.4 * 32767, rel=0.03)


async def test_clear_silences_quickly_and_played_ms_matches_what_was_heard(pulse: Pulse) -> None:
    with pulse.capture() as cap:
        async with asyncio.timeout(10), DeviceSink(AudioOutputSettings(volume=100)) as sink:
            await asyncio.sleep(0.1)
            sink.write(pcm(tone(440, 3.0, 24000, 0.4)))
            probes: list[tuple[float, float]] = []
            for _ in range(8):
                await asyncio.sleep(0.1)
                probes.append((time.monotonic(), sink.played_ms))
            t_clear = time.monotonic()
            played_at_clear = sink.played_ms
            sink.clear()
            await asyncio.sleep(0.3)
            await sink.drain()
            final_played = sink.played_ms
            assert sink.written_ms == pytest.approx(final_played, abs=1)
    times, x = cap.samples()
    loud = sounding(x, 16000)
    heard_times = times[loud]
    silence_after = heard_times[-1] - t_clear
    heard_by_clear_ms = 1000 * np.count_nonzero(heard_times <= t_clear) / 16000
    errors = [played - 1000 * np.count_nonzero(heard_times <= t) / 16000 for t, played in probes]
    log.info("clear -> silence %.0f ms; played_ms error at clear %+.0f ms, during playback %+.0f..%+.0f ms",
                1000 * silence_after, played_at_clear - heard_by_clear_ms, min(errors), max(errors))
    assert silence_after < 0.150
    assert abs(played_at_clear - heard_by_clear_ms) < 30
    assert max(abs(e) for e in errors) < 30
    total_heard_ms = 1000 * loud.sum() / 16000
    assert final_played == pytest.approx(total_heard_ms, abs=30)


async def test_speaker_resamples_for_a_48k_device_and_applies_the_volume(pulse: Pulse) -> None:
    with pulse.capture() as cap:
        async with asyncio.timeout(10), DeviceSink(AudioOutputSettings(rate=48000, volume=50)) as sink:
            assert sink.device_rate == 48000
            await asyncio.sleep(0.05)
            sink.write(pcm(tone(440, 0.5, 24000, 0.8)))
            await sink.drain()
            assert sink.played_ms == pytest.approx(500, abs=2)
            assert sink.written_ms == pytest.approx(500)
            await asyncio.sleep(0.1)
    _, x = cap.samples()
    part = sounding_part(x, 16000)
    assert part.size == pytest.approx(8000, abs=80)
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
