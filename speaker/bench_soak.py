"""``speaker bench --soak N``: N wake → question → answer interactions in one daemon, against the
Realtime EMULATOR (in its own process, so its memory and CPU are kept apart), printing RSS growth, CPU per
interaction and failures.

Everything runs as in the daemon (front end with the real wake word and VAD, core, runner, Realtime
client, file sink) except the pace: the microphone is a source that plays the bundled "hey jarvis, turn
on the kitchen light" as fast as the front end takes it, then quiet until the conversation is idle again,
and the reply is written to a file without real-time pacing. ``follow_up_s``/``idle_close_s`` are 0, so
each interaction is one session. An interaction fails if it sees no wake, no reply, or an error, or
takes over ``INTERACTION_LIMIT_S``.
"""

from __future__ import annotations

import asyncio
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from speaker.audio.format import MIC, AudioFormat
from speaker.bench_support import demo_audio, speaker_against_emulator
from speaker.core import outputs as O
from speaker.core.conversation import Step
from speaker.realtime import guard

KEY = "sk-emulator-soak"
WARM_UP = 10
"""Interactions before the first RSS reading (caches, models, first-use allocations)."""
INTERACTION_LIMIT_S = 30.0
BLOCK_MS = 10
QUIET = bytes(MIC.bytes_for_ms(BLOCK_MS))


def _rss_kb() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@dataclass
class Tally:
    """A runner observer: what each interaction produced."""

    wakes: int = 0
    replies: int = 0
    errors: int = 0
    current_errors: list[str] = field(default_factory=list)

    def observe(self, step: Step, now: float) -> None:
        match step:
            case O.WakeHeard():
                self.wakes += 1
            case O.ReplyText():
                self.replies += 1
            case O.Problem(message=message):
                self.errors += 1
                self.current_errors.append(message[:200])
            case _:
                pass


class SoakSource:
    """The microphone for the soak: the clip, then quiet until ``idle()`` says the conversation is over
    (or the limit), ``count`` times. Calls ``done(n, seconds)`` after each interaction."""

    format: AudioFormat = MIC

    def __init__(self, clip: bytes, count: int, idle: Callable[[], bool],
                 done: Callable[[int, float, bool], None]) -> None:
        self._blocks = [clip[i:i + len(QUIET)].ljust(len(QUIET), b"\0") for i in range(0, len(clip), len(QUIET))]
        self._count = count
        self._idle = idle
        self._done = done

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None

    def frames(self) -> AsyncIterator[bytes]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        for n in range(self._count):
            started = loop.time()
            for i, block in enumerate(self._blocks):
                yield block
                if i % 10 == 0:
                    await asyncio.sleep(0)
            # quiet at 10x real time until the conversation is idle again (the session is closed)
            busy = True
            while loop.time() - started < INTERACTION_LIMIT_S:
                yield QUIET
                await asyncio.sleep(BLOCK_MS / 1000 / 10)
                if self._idle():
                    busy = False
                    break
            for _ in range(50):  # half a second of quiet before the next wake word
                yield QUIET
            self._done(n, loop.time() - started, busy)


def _clip() -> bytes:
    return bytes(MIC.bytes_for_ms(500)) + demo_audio(MIC.rate)


def _emulator_process() -> tuple[str, Callable[[], None]]:
    """The emulator in its own process (``python -m realtime_emulator``): its records of every event
    must not count as the daemon's memory or CPU."""
    proc = subprocess.Popen([sys.executable, "-m", "realtime_emulator", "--port", "0", "--speed", "20",
                             "--key", KEY], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    url = None
    while url is None and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        found = re.search(r"ws://\S+", line)
        url = found.group(0) if found else None
    if url is None:
        proc.kill()
        raise RuntimeError("the emulator did not start")
    threading.Thread(target=proc.stderr.read, daemon=True, name="emulator-log").start()  # keep the pipe empty

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()

    return url, stop


async def run(count: int) -> dict[str, Any]:
    from speaker.core.conversation import Phase

    url, stop_emulator = _emulator_process()
    rss: list[int] = []
    cpu: list[tuple[float, float]] = []
    failures: list[str] = []
    tally = Tally()
    seen = {"wakes": 0, "replies": 0, "errors": 0}
    try:
        with tempfile.TemporaryDirectory(prefix="speaker-soak-") as tmp_name:
            tmp = Path(tmp_name)
            holder: dict[str, Any] = {}

            def idle() -> bool:
                speaker = holder.get("speaker")
                return speaker is not None and speaker.runner.core.phase is Phase.IDLE

            def done(n: int, seconds: float, timed_out: bool) -> None:
                new = {k: getattr(tally, k) - seen[k] for k in seen}
                seen.update({k: getattr(tally, k) for k in seen})
                if timed_out or new["wakes"] < 1 or new["replies"] < 1 or new["errors"]:
                    failures.append(f"#{n + 1}: {new} in {seconds:.1f} s{' (timed out)' if timed_out else ''} "
                                    f"{tally.current_errors[-1:]}")
                tally.current_errors.clear()
                rss.append(_rss_kb())
                cpu.append((time.process_time(), time.thread_time()))

            source = SoakSource(_clip(), count, idle, done)
            config = "audio:\n  output:\n    realtime: false\nconversation:\n  follow_up_s: 0\n  idle_close_s: 0\n"
            cpu.append((time.process_time(), time.thread_time()))
            started = time.monotonic()
            async with speaker_against_emulator(url, KEY, tmp, config, source=source, observers=[tally],
                                                timed=False, output="out.raw") as bench:
                holder["speaker"] = bench.speaker
                await bench.run()
            wall = time.monotonic() - started
    finally:
        stop_emulator()
    return {"rss": rss, "cpu": cpu, "failures": failures, "wall": wall, "count": count,
            "drops": dict(guard.TOTALS)}


def main(count: int) -> int:
    if count < 1:
        print("speaker bench: --soak needs a positive number of interactions")
        return 2
    clip_s = len(_clip()) / MIC.bytes_per_second
    print(f"soak: {count} interactions (wake word + question, {clip_s:.1f} s of audio each, then quiet until "
          "idle) in one daemon against the EMULATOR (another process)")
    f = asyncio.run(run(count))
    done = len(f["rss"])
    cpu = f["cpu"]
    total = cpu[-1][0] - cpu[0][0]
    main_thread = cpu[-1][1] - cpu[0][1]
    print(f"  interactions completed   {done} of {count} in {f['wall']:.1f} s wall")
    print(f"  failures                 {len(f['failures'])} (target 0)")
    for line in f["failures"][:10]:
        print(f"    {line}")
    if done > WARM_UP:
        first, last = f["rss"][WARM_UP - 1], f["rss"][-1]
        print(f"  RSS after #{WARM_UP} / after #{done}   {first / 1024:.1f} MB / {last / 1024:.1f} MB: growth "
              f"{(last - first) / 1024:+.2f} MB over {done - WARM_UP} interactions (target <= 5 MB)")
    else:
        print(f"  RSS                      {f['rss'][-1] / 1024:.1f} MB (too few interactions for a growth figure)")
    if done:
        print(f"  CPU per interaction      {total / done:.3f} CPU-s (daemon process; {main_thread / done:.3f} in "
              f"its event loop thread) for {clip_s:.1f} s of audio")
    print(f"  server events dropped/repaired {f['drops'] or 0}")
    return 0 if not f["failures"] and done == count else 1
