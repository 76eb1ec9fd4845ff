"""A private PulseAudio server with virtual devices, so real sounddevice streams run on a machine
without a sound card.

Layout (all null sinks at 16 kHz mono s16le):

- ``vsink``: the default sink. Whatever the code under test plays lands here; ``vsink.monitor``
  records it back (``record_output``, ``start_recording``, ``TimedCapture``).
- ``micsink`` + ``vmic``: ``play_into_mic`` plays into ``micsink``; ``vmic`` (the default source)
  remaps ``micsink.monitor``, so it is what a test microphone hears.

Clients find the server through ``PULSE_SERVER``. Debian's ALSA config routes ALSA's ``default``
device to PulseAudio when a server is reachable, so PortAudio lists ``pulse`` and ``default``.

Two things the fixture takes care of:

1. PortAudio scans devices once, at ``Pa_Initialize``, which sounddevice calls when it is imported.
   After ``PULSE_SERVER`` is set, ``sd._terminate(); sd._initialize()`` makes it scan again (and again
   at teardown, so later tests see the machine as it is). No stream may be open across that call.
2. A null sink with no low-latency client sleeps in 2-second render cycles; a stream joining it
   waits for the current cycle to end, so its first callback comes 0.1-2 s late at random. Two
   "keeper" recorders with 10 ms latency keep both sinks in short cycles for the server's lifetime.
   Suspending and resuming each sink once they are connected restarts the cycle at once (else the
   fixture itself would wait out the first 2 s cycle); after that stream start-up takes milliseconds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

RATE = 16000
HANG_S = 60.0
"""Bound on every wait in the audio tests: only a real hang takes this long, never a slow machine."""
QUIET_MS = 500
"""Silence (in stream order, after the sound) that marks a played sound as fully captured."""
LOUD = 1000.0
"""RMS above which a block counts as sound (the test tones are at 0.4-0.5 of full scale)."""
_ENV_KEYS = ("PULSE_SERVER", "PULSE_SINK", "PULSE_SOURCE")


def _reinit_portaudio() -> None:
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


@dataclass
class Recording:
    """A ``parecord`` of a source into a raw file; ``stop()`` returns s16le 16 kHz mono bytes."""

    path: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> bytes:
        if self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: parecord flushes and exits
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.path.read_bytes()


@dataclass
class TimedCapture:
    """Record a PulseAudio source in this process, with the monotonic time each sample was captured
    (from PortAudio's ``inputBufferAdcTime``): the tests count what was heard in it and log when sound
    started or stopped. A 200 ms buffer, so that a busy machine does not make it lose samples (the
    server drops what a recorder does not fetch in time). Use as a context manager."""

    source: str
    device: int
    blocks: list[tuple[float, bytes]] = field(default_factory=list)
    overflows: int = 0
    """Blocks PortAudio reported as overflowed (samples this witness lost, not the code under test)."""
    _stream: Any = None

    def __enter__(self) -> TimedCapture:
        import sounddevice as sd

        def callback(indata: Any, frames: int, ti: Any, status: Any) -> None:
            adc_age = ti.currentTime - ti.inputBufferAdcTime
            if status.input_overflow:
                self.overflows += 1
            self.blocks.append((time.monotonic() - adc_age, bytes(indata)))

        old = os.environ.get("PULSE_SOURCE")
        os.environ["PULSE_SOURCE"] = self.source  # libpulse reads it when the stream connects
        try:
            self._stream = sd.RawInputStream(device=self.device, samplerate=RATE, channels=1, dtype="int16",
                                             blocksize=160, latency=0.2, callback=callback)
        finally:
            if old is None:
                del os.environ["PULSE_SOURCE"]
            else:
                os.environ["PULSE_SOURCE"] = old
        self._stream.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.stop()
        self._stream.close()

    async def running(self) -> None:
        """Wait until the first block arrived: from here on nothing played is missed."""
        async with asyncio.timeout(HANG_S):
            while not self.blocks:  # noqa: ASYNC110 - the PortAudio thread appends
                await asyncio.sleep(0.01)

    async def until_quiet(self, quiet_ms: float = QUIET_MS) -> None:
        """Wait until the capture holds sound followed by ``quiet_ms`` of silence: what was played
        (and drained) before this call has then all been recorded, however late the callbacks ran."""
        async with asyncio.timeout(HANG_S):
            while not _sound_then_quiet([b for _, b in list(self.blocks)], quiet_ms):  # noqa: ASYNC110 - the PortAudio thread appends
                await asyncio.sleep(0.02)

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """(times, samples): the capture time in ``time.monotonic()`` seconds of every sample."""
        blocks = list(self.blocks)
        if not blocks:
            return np.zeros(0), np.zeros(0, dtype=np.int16)
        pcm = np.concatenate([np.frombuffer(b, dtype="<i2") for _, b in blocks])
        times = np.concatenate([t + np.arange(len(b) // 2) / RATE for t, b in blocks])
        return times, pcm


@dataclass
class Pulse:
    """Handle on the private server (see the module docstring for its devices)."""

    directory: Path
    server: str
    process: subprocess.Popen[bytes] | None
    startup_s: float
    """From starting the daemon until it answered."""
    ready_s: float = 0.0
    """From starting the daemon until the sinks ran in low-latency cycles."""
    keepers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """Environment for client programs (paplay, parecord, a daemon under test)."""
        env = {k: v for k, v in os.environ.items() if k not in _ENV_KEYS}
        env["PULSE_SERVER"] = self.server
        return env

    def run(self, *args: str, timeout: float = 10.0) -> str:
        out = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=timeout, check=True)
        return out.stdout

    def play_into_mic(self, wav: Path, *, wait: bool = True) -> subprocess.Popen[bytes]:
        """Play a WAV into ``micsink`` (heard on ``vmic``). Waits for the end unless ``wait=False``.
        A 200 ms stream buffer: a busy machine must not starve paplay into gaps in the sound (no test
        measures how soon the sound starts)."""
        proc = subprocess.Popen(["paplay", "--device=micsink", "--latency-msec=200", str(wav)], env=self.env,
                                stderr=subprocess.DEVNULL)
        if wait:
            proc.wait(timeout=60)
        return proc

    def start_recording(self, source: str = "vsink.monitor") -> Recording:
        """Start ``parecord`` of ``source`` (default: what was played) as raw s16le 16 kHz mono."""
        path = Path(tempfile.mkstemp(dir=self.directory, suffix=".raw")[1])
        proc = subprocess.Popen(
            ["parecord", f"--device={source}", "--raw", f"--rate={RATE}", "--channels=1", "--format=s16le",
             "--latency-msec=200", str(path)], env=self.env, stderr=subprocess.DEVNULL)
        return Recording(path, proc)

    def record_output(self, seconds: float) -> bytes:
        """Record what is played to the default sink for ``seconds``."""
        rec = self.start_recording()
        time.sleep(seconds)
        return rec.stop()

    def capture(self, source: str = "vsink.monitor") -> TimedCapture:
        """An in-process, timestamped recorder of ``source`` (use with ``with``)."""
        return TimedCapture(source, self.device_index("pulse"))

    def device_index(self, name: str) -> int:
        import sounddevice as sd

        for dev in sd.query_devices():
            if dev["name"] == name:
                return int(dev["index"])
        raise LookupError(f"PortAudio has no device {name!r}")

    def start(self) -> None:
        """Start (or restart, on the same socket) the daemon and wait until streams start promptly."""
        socket = self.directory / "native"
        env = {k: v for k, v in os.environ.items() if k not in _ENV_KEYS}
        env.update(XDG_RUNTIME_DIR=str(self.directory), HOME=str(self.directory))  # nothing of the user's
        null = f"rate={RATE} channels=1 format=s16le"
        t0 = time.monotonic()
        self.process = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
             "--log-target=stderr", "--log-level=error",
             "-L", f"module-native-protocol-unix auth-anonymous=1 socket={socket}",
             "-L", f"module-null-sink sink_name=vsink {null}",
             "-L", f"module-null-sink sink_name=micsink {null}",
             "-L", "module-remap-source source_name=vmic master=micsink.monitor"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = t0 + 10
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"pulseaudio exited at start with code {self.process.returncode}")
            if socket.exists() and subprocess.run(["pactl", "info"], env=self.env,
                                                  capture_output=True).returncode == 0:
                break
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail("pulseaudio did not answer within 10 s")
            time.sleep(0.01)
        self.startup_s = time.monotonic() - t0
        outs = []
        for monitor in ("vsink.monitor", "micsink.monitor"):
            out = self.directory / f"keeper-{monitor}.raw"
            outs.append(out)
            with open(out, "ab") as f:  # append: after the truncate below, writes restart at 0
                self.keepers.append(subprocess.Popen(
                    ["parec", f"--device={monitor}", "--raw", "--latency-msec=10", f"--rate={RATE}",
                     "--channels=1"], env=self.env, stdout=f, stderr=subprocess.DEVNULL))
        while len(self.run("pactl", "list", "short", "source-outputs").splitlines()) < len(outs):
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail("the PulseAudio keeper streams did not connect within 10 s")
            time.sleep(0.01)
        for sink in ("vsink", "micsink"):  # restart the sinks' render cycles at the keepers' latency
            self.run("pactl", "suspend-sink", sink, "1")
            self.run("pactl", "suspend-sink", sink, "0")
        while not all(o.stat().st_size > 0 for o in outs):
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail("the PulseAudio null sinks did not start running within 10 s")
            time.sleep(0.01)
        for out in outs:  # the keepers keep running; what they record is of no use
            os.truncate(out, 0)
        self.ready_s = time.monotonic() - t0

    def stop(self) -> None:
        """Stop the daemon (to a client this looks like every device being unplugged at once)."""
        procs = [*self.keepers, self.process]
        self.keepers = []
        for proc in procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def start_pulse() -> Pulse:
    """Start a private server with the virtual devices; skip the test if PulseAudio is missing."""
    missing = [tool for tool in ("pulseaudio", "pactl", "paplay", "parecord") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"PulseAudio is not installed (missing {', '.join(missing)}); "
                    "apt install pulseaudio pulseaudio-utils libasound2-plugins")
    directory = Path(tempfile.mkdtemp(prefix="speaker-pulse-"))
    pulse = Pulse(directory, f"unix:{directory / 'native'}", None, 0.0)
    pulse.start()
    return pulse


@pytest.fixture(scope="module")
def pulse() -> Iterator[Pulse]:
    """A private PulseAudio server for the tests of one module, with ``PULSE_SERVER`` set in this
    process and PortAudio re-initialised to see it; both undone afterwards."""
    server = start_pulse()
    saved = {k: os.environ.get(k) for k in _ENV_KEYS}
    try:
        for k in _ENV_KEYS:
            os.environ.pop(k, None)
        os.environ["PULSE_SERVER"] = server.server
        _reinit_portaudio()
        try:
            server.device_index("default")
        except LookupError:
            pytest.skip("PortAudio does not see the PulseAudio server (is libasound2-plugins installed?)")
        yield server
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reinit_portaudio()
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


def _loud(block: bytes) -> bool:
    x = np.frombuffer(block, dtype="<i2").astype(np.float64)
    return bool(x.size) and float(np.sqrt(np.mean(x**2))) > LOUD


def _sound_then_quiet(blocks: list[bytes], quiet_ms: float) -> bool:
    """Sound somewhere, then at least ``quiet_ms`` of 16 kHz silence after the last of it."""
    quiet = 0
    for block in reversed(blocks):
        if _loud(block):
            return quiet >= quiet_ms * RATE // 1000
        quiet += len(block) // 2
    return False


async def capture_playback(frames: AsyncIterator[bytes], play: Callable[[], subprocess.Popen[bytes]], *,
                           on_frame: Callable[[bytes, int], None] = lambda frame, at: None,
                           quiet_ms: float = QUIET_MS) -> bytes:
    """Read 16 kHz frames from ``frames`` while ``play()`` plays something into the microphone, until
    all of it has come through: the player has exited (paplay drains: the server has played it all)
    and, in stream order, sound was followed by ``quiet_ms`` of silence. Counted in samples, not in
    seconds, so a slow machine only makes it take longer. ``on_frame(frame, at)`` sees every frame
    with its position (samples before it). Returns everything read, from the first frame."""
    out = bytearray()
    last_loud: int | None = None
    """Position just after the last loud frame."""

    def take(frame: bytes) -> None:
        nonlocal last_loud
        on_frame(frame, len(out) // 2)
        out.extend(frame)
        if _loud(frame):
            last_loud = len(out) // 2

    def done() -> bool:
        return last_loud is not None and len(out) // 2 - last_loud >= quiet_ms * RATE // 1000

    async with asyncio.timeout(HANG_S):
        take(await anext(frames))  # the stream runs: nothing played from here on is missed
        player = play()
        try:
            while player.poll() is None or not done():
                take(await anext(frames))
        finally:
            if player.poll() is None:
                player.terminate()
            player.wait(timeout=10)
    return bytes(out)


def write_wav(path: Path, pcm: bytes, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path
