"""FileSource: WAV of any rate/channels/encoding, raw, FIFO and stdin-like streams, pacing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from speaker.audio.file_source import FileSource
from speaker.audio.format import MIC
from speaker.audio.wavfile import WavFormatError
from speaker.errors import AudioDeviceError
from tests.audio.signals import dominant_hz, pcm, rms, samples, tone

BLOCK = MIC.bytes_for_ms(10)


def write_wav(path: Path, x: np.ndarray, rate: int, *, encoding: str = "pcm16", extensible: bool = False,
              data_size: int | None = None, list_chunk: bool = False) -> Path:
    """Write float samples in [-1, 1] shaped (frames, channels) with the given encoding."""
    channels = x.shape[1]
    if encoding == "pcm16":
        body, bits, tag = np.rint(x * 32767).astype("<i2").tobytes(), 16, 1
    elif encoding == "pcm24":
        ints = np.rint(x * 8388607).astype("<i4")
        body = b"".join(int(v).to_bytes(4, "little", signed=True)[:3] for v in ints.reshape(-1))
        bits, tag = 24, 1
    else:
        body, bits, tag = x.astype("<f4").tobytes(), 32, 3
    block = channels * bits // 8
    if extensible:
        guid = struct.pack("<H", tag) + bytes.fromhex("000000001000800000aa00389b71")
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits, 0) + guid
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    extra = b"LIST" + struct.pack("<I", 4) + b"INFO" if list_chunk else b""
    size = len(body) if data_size is None else data_size
    chunks = extra + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + body
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return path


async def collect(source: FileSource, limit_s: float = 10.0) -> list[bytes]:
    async with asyncio.timeout(limit_s), source:
        return [frame async for frame in source.frames()]


def stereo_440_left(seconds: float, rate: int) -> np.ndarray:
    left = tone(440, seconds, rate, 0.5).astype(np.float64) / 32767
    return np.stack([left, np.zeros_like(left)], axis=1)


async def test_48k_stereo_wav_is_resampled_and_channel_picked(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "in.wav", stereo_440_left(1.0, 48000), 48000)
    left = b"".join(await collect(FileSource(path, realtime=False, channels=[0])))
    right = b"".join(await collect(FileSource(path, realtime=False, channels=[1])))
    mixed = b"".join(await collect(FileSource(path, realtime=False)))
    assert len(left) == len(right) == len(mixed) == MIC.bytes_per_second  # 1 s, whole blocks
    x = samples(left)[1600:-1600]
    assert dominant_hz(x, 16000) == pytest.approx(440, abs=2)
    assert rms(x) == pytest.approx(0.5 * 32767 / np.sqrt(2), rel=0.02)
    assert rms(samples(right)) < 5
    assert rms(samples(mixed)[1600:-1600]) == pytest.approx(rms(x) / 2, rel=0.02)


@pytest.mark.parametrize(("encoding", "extensible"), [("pcm24", True), ("float", False), ("pcm16", True)])
async def test_other_encodings_decode_to_the_same_level(tmp_path: Path, encoding: str, extensible: bool) -> None:
    x = (tone(1000, 0.5, 22050, 0.25).astype(np.float64) / 32767)[:, None]
    path = write_wav(tmp_path / "in.wav", np.repeat(x, 4, axis=1), 22050, encoding=encoding,
                     extensible=extensible, list_chunk=True)
    out = samples(b"".join(await collect(FileSource(path, realtime=False, channels=[1, 3]))))
    assert out.size == 8000
    assert dominant_hz(out[800:-800], 16000) == pytest.approx(1000, abs=3)
    assert rms(out[800:-800]) == pytest.approx(0.25 * 32767 / np.sqrt(2), rel=0.02)


async def test_16k_mono_wav_passes_through_exactly_and_the_last_block_is_padded(tmp_path: Path) -> None:
    x = tone(300, 0.1234, 16000)
    path = tmp_path / "in.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm(x))
    frames = await collect(FileSource(path, realtime=False))
    assert all(len(f) == BLOCK for f in frames)
    data = b"".join(frames)
    assert data[:len(pcm(x))] == pcm(x)
    assert data[len(pcm(x)):] == bytes(len(data) - len(pcm(x)))
    assert len(frames) == 13


async def test_streamed_wav_with_unknown_size_reads_to_the_end(tmp_path: Path) -> None:
    x = (tone(440, 0.5, 16000).astype(np.float64) / 32767)[:, None]
    path = write_wav(tmp_path / "in.wav", x, 16000, data_size=0xFFFFFFFF)
    assert len(b"".join(await collect(FileSource(path, realtime=False)))) == MIC.bytes_for_ms(500)


async def test_wav_data_size_stops_before_trailing_chunks(tmp_path: Path) -> None:
    x = (tone(440, 0.5, 16000).astype(np.float64) / 32767)[:, None]
    path = write_wav(tmp_path / "in.wav", x, 16000)
    # metadata after the audio must not be played as noise
    path.write_bytes(path.read_bytes() + b"LIST" + struct.pack("<I", 400) + bytes(range(256)) + bytes(144))
    assert len(b"".join(await collect(FileSource(path, realtime=False)))) == MIC.bytes_for_ms(500)


@pytest.mark.parametrize("name", ["in.raw", "in.pcm", "in.s16"])
async def test_raw_files_are_16k_mono(tmp_path: Path, name: str) -> None:
    data = pcm(tone(440, 0.25, 16000))
    (tmp_path / name).write_bytes(data)
    assert b"".join(await collect(FileSource(tmp_path / name, realtime=False))) == data


async def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(AudioDeviceError, match=r"missing\.wav"):
        await collect(FileSource(tmp_path / "missing.wav"))
    (tmp_path / "bad.wav").write_bytes(b"hello, not audio" * 10)
    with pytest.raises(WavFormatError, match="not a WAV"):
        await collect(FileSource(tmp_path / "bad.wav"))
    path = write_wav(tmp_path / "stereo.wav", stereo_440_left(0.1, 16000), 16000)
    with pytest.raises(WavFormatError, match=r"channel 2.*2 channel"):
        await collect(FileSource(path, channels=[2]))
    (tmp_path / "x.raw").write_bytes(bytes(320))
    with pytest.raises(WavFormatError, match="raw input is mono"):
        await collect(FileSource(tmp_path / "x.raw", channels=[1]))


# ---------------------------------------------------------------------- FIFOs


def _write_later(path: Path, data: bytes, delay: float = 0.0, piece: int = 4096, gap: float = 0.0,
                 after: threading.Event | None = None) -> threading.Thread:
    """Write ``data`` into ``path`` from a thread, once ``after`` is set (or after ``delay``)."""
    def run() -> None:
        if after is not None:
            after.wait(30)
        else:
            time.sleep(delay)
        with open(path, "wb") as f:
            for i in range(0, len(data), piece):
                f.write(data[i:i + piece])
                f.flush()
                if gap:
                    time.sleep(gap)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def test_fifo_raw_does_not_block_the_loop_while_waiting_for_a_writer(tmp_path: Path) -> None:
    """The writer only comes once the event loop has run 15 more steps while the source waits for it: if
    opening the FIFO blocked the loop, no writer would ever come (bounded: 30 s)."""
    fifo = tmp_path / "mic.fifo"
    os.mkfifo(fifo)
    data = pcm(tone(440, 0.5, 16000))
    loop_ran = threading.Event()
    writer = _write_later(fifo, data, piece=1001, after=loop_ran)  # odd pieces split samples
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1
            if ticks >= 15:
                loop_ran.set()

    task = asyncio.create_task(ticker())
    try:
        async with asyncio.timeout(30):
            frames = await collect(FileSource(fifo, realtime=False))
    finally:
        task.cancel()
    writer.join(timeout=5)
    assert loop_ran.is_set()  # the loop kept running while the source waited for the writer
    assert b"".join(frames) == data


async def test_fifo_carrying_a_wav_is_recognised_by_its_header(tmp_path: Path) -> None:
    fifo = tmp_path / "mic"  # no suffix: content decides
    os.mkfifo(fifo)
    wav = write_wav(tmp_path / "src.wav", stereo_440_left(0.5, 48000), 48000, data_size=0xFFFFFFFF)
    _write_later(fifo, wav.read_bytes(), delay=0.05, gap=0.001)
    out = samples(b"".join(await collect(FileSource(fifo, realtime=False, channels=[0]))))
    assert out.size == 8000
    assert dominant_hz(out[800:-800], 16000) == pytest.approx(440, abs=2)


async def test_closing_a_source_whose_fifo_never_gets_a_writer_returns(tmp_path: Path) -> None:
    fifo = tmp_path / "idle.fifo"
    os.mkfifo(fifo)
    async with asyncio.timeout(2):
        async with FileSource(fifo) as source:
            frames = source.frames()
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await anext(frames)
    # unblock the abandoned daemon thread so it does not linger for the rest of the session
    with contextlib.suppress(OSError):  # ENXIO: no reader any more
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


# ---------------------------------------------------------------------- pacing


async def test_real_time_pacing_follows_the_clock_without_drift(tmp_path: Path) -> None:
    (tmp_path / "a.raw").write_bytes(pcm(tone(440, 0.6, 16000)))
    loop = asyncio.get_running_loop()
    arrivals: list[float] = []
    async with asyncio.timeout(5), FileSource(tmp_path / "a.raw", realtime=True) as source:
        start = loop.time()
        async for _ in source.frames():
            arrivals.append(loop.time() - start)
    assert len(arrivals) == 60
    # block n is never early, and the total is real time (loose upper bound for busy machines)
    assert all(t >= (n + 1) * 0.010 - 0.002 for n, t in enumerate(arrivals))
    assert 0.59 <= arrivals[-1] < 1.2


async def test_fast_mode_runs_far_faster_than_real_time(tmp_path: Path) -> None:
    (tmp_path / "long.raw").write_bytes(bytes(MIC.bytes_per_second * 120))  # two minutes
    frames = 0
    # the bound is half the audio's length: paced reading cannot beat it, however fast the machine;
    # unpaced reading is far inside it, however slow (how fast it really is: a figure, printed)
    t0 = time.monotonic()
    async with asyncio.timeout(60), FileSource(tmp_path / "long.raw", realtime=False) as source:
        async for _ in source.frames():
            frames += 1
    assert frames == 12000
    print(f"fast mode: 120 s of audio read in {time.monotonic() - t0:.2f} s")


async def test_fast_mode_lets_other_tasks_run(tmp_path: Path) -> None:
    (tmp_path / "long.raw").write_bytes(bytes(MIC.bytes_per_second * 10))
    ran = 0

    async def other() -> None:
        nonlocal ran
        while True:
            await asyncio.sleep(0)
            ran += 1

    task = asyncio.create_task(other())
    try:
        await collect(FileSource(tmp_path / "long.raw", realtime=False))
    finally:
        task.cancel()
    assert ran >= 10
