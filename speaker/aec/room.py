"""A simulated room: the speaker's own output coming back into its microphone.

The far end (what the speaker plays, 24 kHz) is resampled to the microphone rate, delayed, convolved
with a synthetic room impulse response (a direct path, then exponentially decaying seeded noise with
the given RT60) and scaled so the echo sits ``echo_db`` below the played signal; near-end speech and a
little noise are added. Everything is seeded: the same spec gives the same samples.

Used by the tests (``tests/helpers/room.py``), by ``speaker bench --aec`` and by ``speaker echo-test
--simulate`` (through :class:`RoomLoopback`, a sink whose output is the source's input)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import numpy as np
import soxr

from speaker.audio.format import MIC, REALTIME, AudioFormat
from speaker.audio.gain import check_volume, volume_gain
from speaker.audio.resample import StreamResampler

FULL_SCALE = 32768.0


@dataclass(frozen=True)
class RoomSpec:
    delay_ms: float = 60.0
    """Playback → capture delay of the direct path (sound card buffers plus the air)."""
    rt60_s: float = 0.3
    """Reverberation time: the impulse response decays by 60 dB in this long."""
    echo_db: float = -6.0
    """Echo level at the microphone relative to the played signal (a gain on the whole path)."""
    noise_dbfs: float = -60.0
    """RMS of the seeded white noise at the microphone."""
    seed: int = 12
    rate: int = MIC.rate


def impulse_response(spec: RoomSpec) -> np.ndarray:
    """The room's response at ``spec.rate``, delay included, with unit energy: a direct path, then
    reflections from 2 ms on, decaying exponentially (-60 dB at RT60), truncated at RT60."""
    rng = np.random.default_rng(spec.seed)
    rate = spec.rate
    delay = round(spec.delay_ms * rate / 1000)
    tail = max(1, round(spec.rt60_s * rate))
    t = np.arange(tail) / rate
    reverb = rng.standard_normal(tail) * np.exp(-6.9078 * t / spec.rt60_s)  # ln(1000): 60 dB at rt60
    reverb[: round(0.002 * rate)] = 0.0
    reverb *= 0.25  # each reflection well below the direct path; together they carry most of the energy
    h = np.concatenate([np.zeros(delay), reverb])
    h[delay] = 1.0
    return np.asarray(h / np.sqrt(np.sum(h * h)), dtype=np.float64)


def to_mic_rate(far: np.ndarray, rate: int = REALTIME.rate, out_rate: int = MIC.rate) -> np.ndarray:
    """Resample the played signal to the microphone rate (float samples, full scale 32768)."""
    if rate == out_rate:
        return far.astype(np.float64)
    return np.asarray(soxr.resample(far.astype(np.float64), rate, out_rate, quality="HQ"), dtype=np.float64)


class Room:
    """Offline rendering of a whole signal (tests, bench)."""

    def __init__(self, spec: RoomSpec | None = None) -> None:
        spec = spec or RoomSpec()
        self.spec = spec
        self.ir = impulse_response(spec)
        self.gain = 10 ** (spec.echo_db / 20)

    def echo(self, far: np.ndarray, rate: int = REALTIME.rate) -> np.ndarray:
        """The echo at the microphone of ``far`` (int16 or float at ``rate``), same duration at the
        microphone rate, as float samples."""
        x = to_mic_rate(far, rate, self.spec.rate)
        n = len(x) + len(self.ir) - 1
        size = 1 << (n - 1).bit_length()
        y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(self.ir, size), size)[: len(x)]
        return np.asarray(y * self.gain, dtype=np.float64)

    def noise(self, n: int) -> np.ndarray:
        rng = np.random.default_rng(self.spec.seed + 1)
        return rng.standard_normal(n) * (FULL_SCALE * 10 ** (self.spec.noise_dbfs / 20))

    def mic(self, far: np.ndarray, near: np.ndarray | None = None, *, rate: int = REALTIME.rate) -> np.ndarray:
        """What the microphone hears: the echo of ``far`` plus ``near`` (float or int16 at the
        microphone rate, zero-padded or cut to the echo's length) plus noise, as int16."""
        total = self.echo(far, rate)
        if near is not None:
            padded = np.zeros(len(total))
            k = min(len(total), len(near))
            padded[:k] = near[:k]
            total = total + padded
        total = total + self.noise(len(total))
        return to_int16(total)


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.asarray(np.clip(np.round(x), -32768, 32767), dtype=np.int16)


def active_rms(x: np.ndarray, rate: int = MIC.rate, floor_db: float = 40.0) -> float:
    """RMS over the 10 ms frames within ``floor_db`` of the loudest one (the level of speech, not of
    the pauses between words)."""
    hop = rate // 100
    frames = np.asarray(x[: len(x) // hop * hop], dtype=np.float64).reshape(-1, hop)
    if frames.size == 0:
        return 0.0
    energy = np.mean(frames * frames, axis=1)
    loud = energy >= energy.max() * 10 ** (-floor_db / 10)
    return float(np.sqrt(np.mean(energy[loud])))


def scale_to(x: np.ndarray, rms: float) -> np.ndarray:
    """``x`` scaled so that its :func:`active_rms` is ``rms``."""
    current = active_rms(x)
    return np.asarray(x, dtype=np.float64) * (rms / current if current else 0.0)


class StreamingRoom:
    """The same room, one block at a time (overlap-add FFT convolution), for loopbacks."""

    def __init__(self, spec: RoomSpec | None = None, *, far_rate: int = REALTIME.rate) -> None:
        spec = spec or RoomSpec()
        self.spec = spec
        ir = impulse_response(spec) * 10 ** (spec.echo_db / 20)
        self._ir = ir
        self._resampler = StreamResampler(far_rate, spec.rate, quality="QQ")  # HQ would add ~37 ms
        self._pending = np.zeros(0, dtype=np.float64)
        self._tail = np.zeros(len(ir) - 1, dtype=np.float64)
        self._rng = np.random.default_rng(spec.seed + 1)
        self._noise = FULL_SCALE * 10 ** (spec.noise_dbfs / 20)
        self._spectra: dict[int, np.ndarray] = {}

    def play(self, far: bytes) -> None:
        """Far-end audio (s16le at ``far_rate``) leaving the loudspeaker; silence counts too."""
        out = np.frombuffer(self._resampler.process(far), dtype="<i2").astype(np.float64)
        self._pending = np.concatenate([self._pending, out])

    def capture(self, n: int, near: np.ndarray | None = None) -> bytes:
        """The next ``n`` microphone samples: echo of what was played so far (short input is
        padded with silence) plus ``near`` (float, up to ``n`` samples) plus noise."""
        if len(self._pending) < n:
            self._pending = np.concatenate([self._pending, np.zeros(n - len(self._pending))])
        x, self._pending = self._pending[:n], self._pending[n:]
        m = len(self._ir)
        size = 1 << (n + m - 2).bit_length()
        spectrum = self._spectra.get(size)
        if spectrum is None:
            spectrum = self._spectra[size] = np.fft.rfft(self._ir, size)
        y = np.fft.irfft(np.fft.rfft(x, size) * spectrum, size)[: n + m - 1]
        y[: m - 1] += self._tail
        out, self._tail = y[:n].copy(), y[n:].copy()
        if len(self._tail) < m - 1:  # n + m - 1 < 2(m - 1): keep the whole tail
            self._tail = np.concatenate([self._tail, np.zeros(m - 1 - len(self._tail))])
        if near is not None:
            out[: len(near)] += near[:n]
        out += self._rng.standard_normal(n) * self._noise
        return to_int16(out).tobytes()


class RoomLoopback:
    """A sink and a source joined through a :class:`StreamingRoom`, in virtual time.

    Each microphone frame the source yields first 'plays' the same duration from the sink's queue (or
    silence when it is empty), so ``sink.played_ms`` advances exactly with the captured audio and a
    test needs no wall clock. ``near`` (float samples at 16 kHz) is mixed in from the start of the
    capture; :meth:`say` schedules more, once the sink has played a given amount. The source ends
    after ``duration_s`` of audio.

    ``hold`` (checked before every frame) stops virtual time while it is true: the whole daemon runs
    against it, and while the daemon waits for the service nothing would be heard anyway (a real
    room would only add silence). ``report_lag_ms`` makes the sink report its played position that
    much late, as a sound card that under-states its latency: the reference then reaches the
    canceller after its echo, which no canceller can remove."""

    def __init__(self, spec: RoomSpec | None = None, *, duration_s: float, near: np.ndarray | None = None,
                 block_ms: int = 10, hold: Callable[[], bool] | None = None, report_lag_ms: float = 0.0) -> None:
        self.room = StreamingRoom(spec)
        self.sink = _LoopSink(REALTIME.bytes_for_ms(report_lag_ms))
        self.source = _LoopSource(self, duration_s, near, block_ms)
        self.hold = hold
        self.scheduled: list[tuple[float, np.ndarray]] = []
        """Near-end speech waiting for the sink to have played its ``played_ms``."""
        self.started: list[float] = []
        """Capture time (s) at which each :meth:`say` began, in order."""

    @property
    def captured_s(self) -> float:
        """Seconds of microphone audio captured so far (the loopback's clock)."""
        return self.source.captured_s

    def say(self, near: np.ndarray, *, after_played_ms: float = 0.0) -> None:
        """Mix ``near`` (float, 16 kHz) into the capture from the first frame at which the sink has
        played ``after_played_ms`` (of everything it was given)."""
        self.scheduled.append((after_played_ms, near))


class _LoopSink:
    format: AudioFormat = REALTIME

    def __init__(self, lag_bytes: int = 0) -> None:
        self._lag = lag_bytes
        self._queue = bytearray()
        self._written = 0
        self._played = 0
        self._volume = 100
        self._gain = 1.0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._idle.set()

    def write(self, pcm: bytes) -> None:
        if len(pcm) % 2:
            raise ValueError("PCM must be whole 16-bit samples")
        self._queue += pcm
        self._written += len(pcm)
        if pcm:
            self._idle.clear()

    def clear(self) -> None:
        self._written -= len(self._queue)
        self._queue.clear()
        self._idle.set()

    async def drain(self) -> None:
        await self._idle.wait()

    @property
    def written_ms(self) -> float:
        return self.format.ms_for_bytes(self._written)

    @property
    def played_ms(self) -> float:
        return self.format.ms_for_bytes(max(0, self._played - self._lag))

    @property
    def queued_ms(self) -> float:
        return self.format.ms_for_bytes(len(self._queue))

    @property
    def volume(self) -> int:
        return self._volume

    def set_volume(self, percent: int) -> None:
        self._volume = check_volume(percent)
        self._gain = volume_gain(percent)

    def take(self, n_bytes: int) -> bytes:
        """Play ``n_bytes``: queued audio (after volume), padded with silence."""
        chunk = bytes(self._queue[:n_bytes])
        del self._queue[:n_bytes]
        self._played += len(chunk)
        if not self._queue:
            self._idle.set()
        if self._gain != 1.0 and chunk:
            scaled = np.frombuffer(chunk, dtype="<i2").astype(np.float64) * self._gain
            chunk = to_int16(scaled).tobytes()
        return chunk + bytes(n_bytes - len(chunk))


class _LoopSource:
    format: AudioFormat = MIC

    def __init__(self, loop: RoomLoopback, duration_s: float, near: np.ndarray | None, block_ms: int) -> None:
        self._loop = loop
        self._blocks = round(duration_s * 1000 / block_ms)
        self._near = near
        self.block_ms = block_ms
        self._captured = 0
        self._playing: list[tuple[int, np.ndarray]] = []

    @property
    def captured_s(self) -> float:
        return self._captured / MIC.rate
    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None

    def frames(self) -> AsyncIterator[bytes]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[bytes]:
        far_bytes = REALTIME.bytes_for_ms(self.block_ms)
        n = MIC.rate * self.block_ms // 1000
        loop = self._loop
        for i in range(self._blocks):
            await asyncio.sleep(0)  # let writers run: the loop's only clock is this iterator
            while loop.hold is not None and loop.hold():  # noqa: ASYNC110 (a condition of the whole daemon, no event)
                await asyncio.sleep(0.002)  # virtual time stands still until the condition clears
            for item in [x for x in loop.scheduled if loop.sink.played_ms >= x[0]]:
                loop.scheduled.remove(item)
                loop.started.append(self.captured_s)
                self._playing.append((self._captured, item[1]))
            loop.room.play(loop.sink.take(far_bytes))
            near = None if self._near is None else self._near[i * n:(i + 1) * n]
            if self._playing:
                near = self._mix(near, n)
            self._captured += n
            yield loop.room.capture(n, near)

    def _mix(self, near: np.ndarray | None, n: int) -> np.ndarray:
        out = np.zeros(n)
        if near is not None:
            out[: len(near)] += near
        for start, samples in self._playing:
            part = samples[self._captured - start:self._captured - start + n]
            out[: len(part)] += part
        self._playing = [(s, x) for s, x in self._playing if self._captured + n - s < len(x)]
        return out
