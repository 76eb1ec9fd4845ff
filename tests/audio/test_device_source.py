"""DeviceSource's loop-side handling of PortAudio blocks, without a device: channel mixing,
resampling, the bounded queue, overflow counting with rate-limited logs, loss and stall errors."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from speaker.audio.device_source import DeviceSource
from speaker.audio.devices import DeviceInfo
from speaker.config.schema import AudioInputSettings
from speaker.errors import AudioDeviceError
from tests.audio.signals import dominant_hz, pcm, rms, samples, tone

ARRAY = DeviceInfo(3, "ReSpeaker 4 Mic Array", "ALSA", 6, 0, 48000.0)


def attached(settings: AudioInputSettings, rate: int, n_channels: int, **kw: float) -> DeviceSource:
    """A source as _open leaves it, with a stand-in for the stream."""
    source = DeviceSource(settings, **kw)
    source._loop = asyncio.get_running_loop()
    source._stream = object()
    source._configure(ARRAY, rate, n_channels)
    return source


async def take(source: DeviceSource, n: int) -> list[bytes]:
    frames = source.frames()
    async with asyncio.timeout(2):
        return [await anext(frames) for _ in range(n)]


async def test_chosen_channels_of_an_array_are_averaged() -> None:
    source = attached(AudioInputSettings(channels=[1, 2]), 16000, 4)
    block = np.zeros((160, 4), dtype=np.int16)
    block[:, 0] = 30000  # an unchosen channel must not leak in
    block[:, 1] = 1000
    block[:, 2] = 3000
    source._on_block(block.tobytes(), False)
    (frame,) = await take(source, 1)
    assert np.all(samples(frame) == 2000)


async def test_48k_capture_is_resampled_into_exact_10ms_blocks() -> None:
    source = attached(AudioInputSettings(channels=[0]), 48000, 2)
    x = tone(440, 1.0, 48000, 0.5, channels=2)
    for i in range(0, 48000, 480):
        source._on_block(pcm(x[i:i + 480]), False)
    frames = await take(source, 90)  # the resampler holds a few ms back
    assert all(len(f) == 320 for f in frames)
    y = samples(b"".join(frames))[1600:]
    assert dominant_hz(y, 16000) == pytest.approx(440, abs=2)
    assert rms(y) == pytest.approx(0.5 * 32767 / np.sqrt(2), rel=0.02)


async def test_a_slow_consumer_loses_the_oldest_blocks_and_they_are_counted() -> None:
    source = attached(AudioInputSettings(), 16000, 1, queue_s=0.5)  # 50 blocks
    for n in range(80):
        source._on_block(np.full(160, n, dtype=np.int16).tobytes(), False)
    assert source.stats.dropped == 30
    frames = await take(source, 50)
    assert [samples(f)[0] for f in frames] == list(range(30, 80))  # the newest audio is kept


async def test_overflows_are_counted_and_logged_at_most_every_30_s(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="speaker.audio.device_source")
    source = attached(AudioInputSettings(), 16000, 1)
    for _ in range(300):
        source._on_block(bytes(320), True)
    assert source.stats.overflows == 300
    assert len(caplog.records) == 1  # not one per block
    assert "1 overflow(s)" in caplog.records[0].getMessage()  # the first one is reported at once
    source._last_log -= 31  # half a minute later
    source._on_block(bytes(320), False)
    assert len(caplog.records) == 2
    assert "299 overflow(s)" in caplog.records[1].getMessage()


async def test_a_lost_stream_and_a_stalled_one_raise_device_errors() -> None:
    source = attached(AudioInputSettings(), 16000, 1)
    source._on_block(bytes(320), False)
    source._on_lost("the input stream stopped")
    frames = source.frames()
    async with asyncio.timeout(2):
        assert await anext(frames) == bytes(320)  # audio before the loss still arrives
        with pytest.raises(AudioDeviceError, match=r"'ReSpeaker 4 Mic Array'.*input stream stopped"):
            await anext(frames)
    stalled = attached(AudioInputSettings(), 16000, 1, stall_s=0.05)
    with pytest.raises(AudioDeviceError, match=r"delivered nothing for 0\.05 s"):
        await take(stalled, 1)
