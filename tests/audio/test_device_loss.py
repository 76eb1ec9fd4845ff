"""Unplugging the sound card (here: stopping the PulseAudio server under live streams) and plugging
it back: the microphone stream carries on and the speaker reopens, with one error line each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from speaker.audio.device_sink import DeviceSink
from speaker.audio.factory import open_source
from speaker.config.schema import AudioInputSettings, AudioOutputSettings
from speaker.errors import AudioDeviceError
from tests.audio.signals import dominant_hz, pcm, samples, sounding, tone
from tests.helpers.pulse import HANG_S, Pulse, capture_playback, write_wav

pytestmark = pytest.mark.audio


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(HANG_S):
        while not condition():  # noqa: ASYNC110 (polling a property of the code under test)
            await asyncio.sleep(0.02)


async def test_microphone_and_speaker_survive_the_device_going_away(
        pulse: Pulse, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="speaker.audio")
    wav = write_wav(tmp_path / "tone.wav", pcm(tone(660, 0.6, 16000, 0.5)))
    source = open_source(AudioInputSettings(retry_s=0.2))
    async with asyncio.timeout(HANG_S), source, DeviceSink(AudioOutputSettings(volume=100, retry_s=0.2)) as sink:
        frames = source.frames()
        await anext(frames)  # the microphone runs
        sink.write(pcm(tone(440, 2.0, 24000)))

        async def read_until_back() -> None:
            while "audio input is back" not in caplog.text:
                await anext(frames)  # the iterator waits through the outage instead of ending

        reader = asyncio.create_task(read_until_back())
        pulse.stop()  # everything unplugged at once
        with pytest.raises(AudioDeviceError, match="output stream stopped"):
            await sink.drain()
        sink.write(pcm(tone(440, 0.5, 24000)))  # writing to a missing speaker is harmless
        await wait_until(lambda: "audio input" in caplog.text and "retrying every 0.2 s" in caplog.text)
        pulse.start()  # plugged back in
        await reader  # the frames now come from the device that came back
        await wait_until(lambda: sink.available)
        heard = samples(await capture_playback(frames, lambda: pulse.play_into_mic(wav, wait=False)))
        with pulse.capture() as cap:
            await cap.running()
            underflows = sink.underflows
            sink.write(pcm(tone(440, 0.5, 24000, 0.4)))
            await sink.drain()
            await cap.until_quiet()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2, errors  # one line for the microphone, one for the speaker
    assert any("audio input" in e and "retrying every 0.2 s" in e for e in errors)
    assert "audio input is back" in caplog.text
    # the microphone works again: the tone played into it after the outage came through
    sound = heard[sounding(heard, 16000)]
    assert sound.size == pytest.approx(0.6 * 16000, abs=320)
    assert dominant_hz(sound, 16000) == pytest.approx(660, abs=3)
    # and the speaker too
    _, x = cap.samples()
    # all of it (a device underflow on a busy machine may skip a little: 10 ms allowed for each)
    assert np.count_nonzero(sounding(x, 16000)) / 16 == pytest.approx(500, abs=15 + 10 * (sink.underflows - underflows))


async def test_a_speaker_missing_at_start_is_waited_for(pulse: Pulse, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="speaker.audio")
    pulse.stop()
    try:
        with pytest.raises(AudioDeviceError, match="output"):
            async with DeviceSink(AudioOutputSettings()):
                pass  # by default a missing speaker is an error at once (for `speaker check`)
        async with asyncio.timeout(HANG_S), DeviceSink(AudioOutputSettings(retry_s=0.1), wait_for_device=True) as sink:
            sink.write(pcm(tone(440, 0.2, 24000)))  # nobody can hear it: gone at once
            assert sink.played_ms == sink.written_ms == pytest.approx(200)
            with pytest.raises(AudioDeviceError):
                await sink.drain()
            assert not sink.available
            pulse.start()
            await wait_until(lambda: sink.available)
            assert "audio output is back" in caplog.text
            sink.write(pcm(tone(440, 0.3, 24000)))
            await sink.drain()
            assert sink.played_ms == pytest.approx(500, abs=1)
    finally:
        if pulse.process is None or pulse.process.poll() is not None:
            pulse.start()
    assert sum(r.levelno >= logging.ERROR for r in caplog.records) == 1
