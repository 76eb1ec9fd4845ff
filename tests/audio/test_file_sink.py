"""FileSink: valid WAV/raw output, real-time 'playback' with played_ms, clear, drain, volume, FIFO."""

from __future__ import annotations

import asyncio
import os
import threading
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from speaker.audio.file_sink import FileSink
from speaker.audio.gain import volume_gain
from tests.audio.signals import pcm, samples, tone

RATE = 24000


def read_wav(path: Path) -> tuple[int, bytes]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return w.getframerate(), w.readframes(w.getnframes())


async def test_fast_wav_is_valid_with_everything_written(tmp_path: Path) -> None:
    data = pcm(tone(440, 1.0, RATE))
    async with asyncio.timeout(5), FileSink(tmp_path / "out" / "reply.wav", realtime=False) as sink:
        sink.write(data[:1000])
        sink.write(data[1000:])
        assert sink.written_ms == sink.played_ms == pytest.approx(1000)
        await sink.drain()
    rate, body = read_wav(tmp_path / "out" / "reply.wav")
    assert rate == RATE
    assert body == data


async def test_raw_output_has_no_header(tmp_path: Path) -> None:
    data = pcm(tone(440, 0.2, RATE))
    async with asyncio.timeout(5), FileSink(tmp_path / "reply.raw", realtime=False) as sink:
        sink.write(data)
    assert (tmp_path / "reply.raw").read_bytes() == data


class Clock:
    """The sink's clock, moved by the test: positions are exact, whatever the machine's load."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


async def until(condition: Callable[[], bool], limit_s: float = 10.0) -> None:
    """Wait (bounded) for something the sink's player or writer thread does."""
    async with asyncio.timeout(limit_s):
        while not condition():  # noqa: ASYNC110 (the condition is set by a thread or the sink's task)
            await asyncio.sleep(0.005)


async def test_real_time_played_ms_follows_the_clock(tmp_path: Path) -> None:
    clock = Clock()
    async with asyncio.timeout(10), FileSink(tmp_path / "reply.wav", clock=clock) as sink:
        sink.write(pcm(tone(440, 1.0, RATE)))
        assert sink.written_ms == pytest.approx(1000)
        assert sink.played_ms == 0
        drained = asyncio.create_task(sink.drain())
        clock.t = 0.3
        await until(lambda: sink.played_ms > 0)
        assert sink.played_ms == pytest.approx(300)  # exactly what the clock says, never ahead of it
        await asyncio.sleep(0)
        assert not drained.done()  # 700 ms still to play
        clock.t = 1.5
        await drained
        assert sink.played_ms == pytest.approx(1000)
    assert len(read_wav(tmp_path / "reply.wav")[1]) == 2 * RATE


async def test_clear_drops_unplayed_audio_and_played_ms_stops(tmp_path: Path) -> None:
    data = pcm(tone(440, 2.0, RATE))
    clock = Clock()
    async with asyncio.timeout(10), FileSink(tmp_path / "reply.wav", clock=clock) as sink:
        sink.write(data)
        clock.t = 0.25
        await until(lambda: sink.played_ms > 0)
        sink.clear()
        assert sink.played_ms == pytest.approx(250)
        assert sink.written_ms == pytest.approx(250)  # nothing left to hear
        await sink.drain()  # nothing to wait for
        clock.t = 5.0
        sink.write(b"")
        assert sink.played_ms == pytest.approx(250)
    _, body = read_wav(tmp_path / "reply.wav")
    assert body == data[:2 * 6000]  # the first 250 ms, unchanged; none of the cleared rest


async def test_audio_after_clear_and_after_an_underrun_plays(tmp_path: Path) -> None:
    first, second = pcm(tone(440, 0.5, RATE)), pcm(tone(880, 0.2, RATE))
    clock = Clock()
    async with asyncio.timeout(10), FileSink(tmp_path / "reply.raw", clock=clock) as sink:
        sink.write(first)
        clock.t = 0.1
        await until(lambda: sink.played_ms > 0)
        sink.clear()
        played = sink.played_ms
        sink.write(second)
        clock.t += 1.0
        await sink.drain()
        assert sink.played_ms == pytest.approx(played + 200)
        clock.t += 1.0  # an underrun: nothing queued for a while
        sink.write(second)
        clock.t += 1.0
        await sink.drain()
        assert sink.written_ms == pytest.approx(sink.played_ms)
    body = (tmp_path / "reply.raw").read_bytes()
    assert body == first[:len(body) - 2 * len(second)] + second + second


async def test_half_samples_lose_the_odd_byte_and_never_raise(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    async with asyncio.timeout(10), FileSink(tmp_path / "odd.raw", realtime=False) as sink:
        sink.write(b"\x01\x02\x03")
        sink.write(b"\x04")
        sink.write(b"\x05\x06")
        assert sink.odd_bytes == 2
    assert (tmp_path / "odd.raw").read_bytes() == b"\x01\x02\x05\x06"
    assert len([r for r in caplog.records if "odd last byte" in r.getMessage()]) == 1


def _reader(fifo: Path, into: bytearray, *, stop_after: int | None = None) -> threading.Thread:
    def run() -> None:
        with open(fifo, "rb") as f:
            while chunk := f.read(4096 if stop_after is None else stop_after - len(into)):
                into.extend(chunk)
                if stop_after is not None and len(into) >= stop_after:
                    return  # the player goes away mid-reply

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def test_a_fifo_whose_reader_goes_away_is_reopened_when_it_is_back(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fifo = tmp_path / "speaker.fifo"
    os.mkfifo(fifo)
    a, b, c, d = (pcm(tone(hz, 0.2, RATE)) for hz in (300, 400, 500, 600))
    first, second = bytearray(), bytearray()
    reader = _reader(fifo, first, stop_after=len(a))
    async with asyncio.timeout(20), FileSink(fifo, realtime=False, retry_s=0.05) as sink:
        sink.write(a)
        await until(lambda: not reader.is_alive())
        sink.write(b)  # the reader is gone: EPIPE
        await until(lambda: not sink.output_ok)
        sink.write(c)  # during the outage: dropped, not queued
        assert sink.played_ms == sink.written_ms == pytest.approx(600)  # playback time goes on
        reader = _reader(fifo, second)
        await until(lambda: sink.output_ok)
        sink.write(d)
    reader.join(10)
    assert bytes(first) == a
    assert bytes(second) == d  # the reply in progress was dropped; audio flows again after it
    failed = [r for r in caplog.records if "failed" in r.getMessage()]
    back = [r for r in caplog.records if "is back after" in r.getMessage()]
    assert len(failed) == 1 and "reader went away" in failed[0].getMessage()
    assert len(back) == 1


async def test_a_fifo_without_a_reader_neither_hangs_playback_nor_hoards_audio(tmp_path: Path) -> None:
    fifo = tmp_path / "nobody.fifo"
    os.mkfifo(fifo)
    clock = Clock()
    async with asyncio.timeout(10), FileSink(fifo, clock=clock, retry_s=0.05) as sink:
        sink.write(pcm(tone(440, 20.0, RATE)))
        clock.t = 30.0
        await sink.drain()  # the conversation does not wait for a reader that never comes
        assert sink.played_ms == pytest.approx(20_000)
    async with asyncio.timeout(10), FileSink(fifo, realtime=False, retry_s=0.05) as sink:
        chunk = pcm(tone(440, 0.1, RATE))
        for _ in range(200):
            sink.write(chunk)
        # the first 10 s wait for a reader; the rest is dropped
        assert sink._writer is not None and sink._writer.dropped == 2 * RATE * 10


FULL = Path("/dev/full")


@pytest.mark.skipif(not FULL.exists(), reason="no /dev/full here")
async def test_a_file_that_cannot_be_written_is_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    full = FULL
    clock = Clock()
    sink = FileSink(tmp_path / "x.raw", realtime=False, retry_s=1.0, clock=clock)
    async with asyncio.timeout(10), sink:
        assert sink._file is not None
        good = sink._file
        sink._file = open(full, "wb", buffering=0)  # noqa: SIM115, ASYNC230 (closed below) - a full disk
        sink.write(b"\x01\x02" * 100)
        sink.write(b"\x01\x02" * 100)  # within retry_s: not even tried
        assert not sink.output_ok and sink.dropped == 400
        sink._file.close()
        sink._file = good  # space again
        clock.t = 2.0
        sink.write(b"\x03\x04")
        assert sink.output_ok
    assert (tmp_path / "x.raw").read_bytes() == b"\x03\x04"
    assert len([r for r in caplog.records if "failed" in r.getMessage()]) == 1
    assert len([r for r in caplog.records if "is back after 2.0 s" in r.getMessage()]) == 1


async def test_volume_is_a_software_gain(tmp_path: Path) -> None:
    x = tone(440, 0.1, RATE, 0.8)
    async with asyncio.timeout(5), FileSink(tmp_path / "v.raw", realtime=False, volume=50) as sink:
        assert sink.volume == 50
        sink.write(pcm(x))
        sink.set_volume(100)
        sink.write(pcm(x))
        with pytest.raises(ValueError, match="out of range"):
            sink.set_volume(101)
    out = samples((tmp_path / "v.raw").read_bytes()).astype(np.int32)
    half = x.size
    assert np.abs(out[:half] - np.rint(x * volume_gain(50))).max() <= 1
    assert np.array_equal(out[half:], x)
    assert volume_gain(50) == pytest.approx(0.25)


async def test_fifo_output_reaches_the_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "speaker.fifo"
    os.mkfifo(fifo)
    received = bytearray()

    def reader() -> None:
        with open(fifo, "rb") as f:
            while chunk := f.read(4096):
                received.extend(chunk)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    data = pcm(tone(440, 0.3, RATE))
    async with asyncio.timeout(5), FileSink(fifo, realtime=False) as sink:
        sink.write(data)
    thread.join(timeout=5)
    assert bytes(received) == data


async def test_fifo_wav_header_says_unknown_size(tmp_path: Path) -> None:
    fifo = tmp_path / "speaker.wav"
    os.mkfifo(fifo)
    received = bytearray()

    def reader() -> None:
        with open(fifo, "rb") as f:
            while chunk := f.read(4096):
                received.extend(chunk)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    async with asyncio.timeout(5), FileSink(fifo, realtime=False) as sink:
        sink.write(pcm(tone(440, 0.1, RATE)))
    thread.join(timeout=5)
    assert received[:4] == b"RIFF" and received[40:44] == b"\xff\xff\xff\xff"
    assert len(received) == 44 + 2 * 2400


async def test_a_missing_directory_is_created_but_an_unwritable_path_is_an_error(tmp_path: Path) -> None:
    from speaker.errors import AudioDeviceError

    (tmp_path / "file").write_text("x")
    with pytest.raises(AudioDeviceError, match="cannot write"):
        async with FileSink(tmp_path / "file" / "out.wav"):
            pass


def test_stdin_to_stdout_pipe_through(tmp_path: Path) -> None:
    """``-`` means stdin for a source and stdout for a sink (``arecord ... | speaker run --input -``)."""
    import subprocess
    import sys

    program = (
        "import asyncio\n"
        "from pathlib import Path\n"
        "from speaker.audio.file_sink import FileSink\n"
        "from speaker.audio.file_source import FileSource\n"
        "async def main():\n"
        "    async with FileSource(Path('-'), realtime=False) as src, "
        "FileSink(Path('-'), rate=16000, realtime=False) as sink:\n"
        "        async for frame in src.frames():\n"
        "            sink.write(frame)\n"
        "asyncio.run(main())\n"
    )
    data = pcm(tone(440, 0.5, 16000))
    out = subprocess.run([sys.executable, "-c", program], input=data, capture_output=True, timeout=30, check=True)
    assert out.stdout == data
