"""Choosing adapters from settings; the resilient source surviving an unplugged device."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

from speaker.audio.device_source import DeviceSource
from speaker.audio.factory import ResilientSource, open_sink, open_source
from speaker.audio.file_sink import FileSink
from speaker.audio.file_source import FileSource
from speaker.audio.format import MIC, AudioFormat
from speaker.config.schema import AudioInputSettings, AudioOutputSettings
from speaker.errors import AudioDeviceError


def test_files_choose_file_adapters_and_devices_the_resilient_source(tmp_path: Path) -> None:
    src = open_source(AudioInputSettings(file=tmp_path / "a.wav", realtime=False, channels=[1], block_ms=20))
    assert isinstance(src, FileSource)
    assert (src.path, src.realtime, src.channels, src.block_ms) == (tmp_path / "a.wav", False, [1], 20)
    override = open_source(AudioInputSettings(channels=[2, 3]), file=tmp_path / "b.raw")
    assert isinstance(override, FileSource) and override.channels is None  # --input: all channels
    assert isinstance(open_source(AudioInputSettings()), ResilientSource)
    assert isinstance(open_source(AudioInputSettings(), resilient=False), DeviceSource)
    sink = open_sink(AudioOutputSettings(volume=30, realtime=False), file=tmp_path / "o.wav")
    assert isinstance(sink, FileSink) and sink.volume == 30 and not sink.realtime


class FakeSource:
    """Scripted microphone: yields its frames, then fails or ends."""

    format: AudioFormat = MIC

    def __init__(self, frames: list[bytes], *, fail_open: bool = False, fail_after: bool = False) -> None:
        self._frames = frames
        self.fail_open = fail_open
        self.fail_after = fail_after
        self.closed = False

    async def __aenter__(self) -> Self:
        if self.fail_open:
            raise AudioDeviceError("no audio input device matches 'ReSpeaker'")
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.closed = True

    def frames(self) -> AsyncIterator[bytes]:
        return self._gen()

    async def _gen(self) -> AsyncIterator[bytes]:
        for f in self._frames:
            await asyncio.sleep(0)
            yield f
        if self.fail_after:
            raise AudioDeviceError("audio input device 2 'ReSpeaker' failed: the input stream stopped")


async def test_frames_keep_coming_across_an_unplugged_device(caplog: pytest.LogCaptureFixture) -> None:
    script = [
        FakeSource([b"a", b"b"], fail_after=True),  # unplugged mid-stream
        FakeSource([], fail_open=True),  # still missing
        FakeSource([], fail_open=True),
        FakeSource([b"c", b"d"], fail_after=True),  # back, then gone again
        FakeSource([b"e"]),  # back; ends normally (like a file)
    ]
    opened: list[FakeSource] = []

    def factory() -> FakeSource:
        opened.append(script[len(opened)])
        return opened[-1]

    caplog.set_level(logging.DEBUG, logger="speaker.audio.factory")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async with asyncio.timeout(5), ResilientSource(factory, retry_s=0.05) as source:
        got = [f async for f in source.frames()]
    assert got == [b"a", b"b", b"c", b"d", b"e"]
    assert len(opened) == 5 and all(s.closed for s in opened if not s.fail_open)
    assert loop.time() - t0 >= 4 * 0.05  # waited retry_s before every reopen
    assert source.reopened == 2 and source.failures == 0
    assert source.last_error is not None and "input stream stopped" in str(source.last_error)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2  # once per outage, not once per attempt
    assert "failed: the input stream stopped" in errors[0].getMessage()
    assert "retrying every 0.05 s" in errors[0].getMessage()
    assert sum("is back" in r.getMessage() for r in caplog.records) == 2


async def test_closing_mid_stream_closes_the_device() -> None:
    inner = FakeSource([b"x"] * 100)
    async with asyncio.timeout(5), ResilientSource(lambda: inner, retry_s=1) as source:
        frames = source.frames()
        assert await anext(frames) == b"x"
    assert inner.closed
