"""FileSink: valid WAV/raw output, real-time 'playback' with played_ms, clear, drain, volume, FIFO."""

from __future__ import annotations

import asyncio
import os
import threading
import wave
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


async def test_real_time_played_ms_grows_with_the_clock(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(5), FileSink(tmp_path / "reply.wav") as sink:
        sink.write(pcm(tone(440, 1.0, RATE)))
        start = loop.time()
        assert sink.written_ms == pytest.approx(1000)
        assert sink.played_ms < 20
        await asyncio.sleep(0.3)
        elapsed_ms = 1000 * (loop.time() - start)
        # at most one 10 ms tick behind the clock, never ahead of it
        assert elapsed_ms - 40 <= sink.played_ms <= elapsed_ms + 1
        t0 = loop.time()
        await sink.drain()
        assert 0.55 < loop.time() - t0 < 1.2
        assert sink.played_ms == pytest.approx(1000)
    assert len(read_wav(tmp_path / "reply.wav")[1]) == 2 * RATE


async def test_clear_drops_unplayed_audio_and_played_ms_stops(tmp_path: Path) -> None:
    data = pcm(tone(440, 2.0, RATE))
    async with asyncio.timeout(5), FileSink(tmp_path / "reply.wav") as sink:
        sink.write(data)
        await asyncio.sleep(0.25)
        before = sink.played_ms
        sink.clear()
        at_clear = sink.played_ms
        assert at_clear == pytest.approx(before, abs=1)
        assert 200 <= at_clear <= 400
        assert sink.written_ms == pytest.approx(at_clear)  # nothing left to hear
        await asyncio.wait_for(sink.drain(), 0.1)  # nothing to wait for
        await asyncio.sleep(0.2)
        assert sink.played_ms == at_clear
    _, body = read_wav(tmp_path / "reply.wav")
    assert len(body) == pytest.approx(2 * RATE * at_clear / 1000, abs=2)
    assert body == data[:len(body)]  # the start, unchanged; none of the cleared rest


async def test_audio_after_clear_and_after_an_underrun_plays(tmp_path: Path) -> None:
    first, second = pcm(tone(440, 0.5, RATE)), pcm(tone(880, 0.2, RATE))
    async with asyncio.timeout(5), FileSink(tmp_path / "reply.raw") as sink:
        sink.write(first)
        await asyncio.sleep(0.1)
        sink.clear()
        played = sink.played_ms
        sink.write(second)
        await sink.drain()
        assert sink.played_ms == pytest.approx(played + 200)
        await asyncio.sleep(0.05)  # an underrun: nothing queued for a while
        sink.write(second)
        await sink.drain()
        assert sink.written_ms == pytest.approx(sink.played_ms)
    body = (tmp_path / "reply.raw").read_bytes()
    assert body.endswith(second + second)


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
