"""``speaker bench --aec``, second half: full duplex measured through the whole daemon in the simulated
room (``speaker.aec.daemon_room``; needs the emulator, a dev dependency). Printed, never asserted:

- false self-interruptions per hour of reply audio: 30 s of reply, nobody speaking (goal 0);
- speech onset -> playback cut, in audio time (the loopback's clock; the sound card's own buffer
  comes on top in a real room): the bundled demo recording's request ("hey jarvis, turn on the
  kitchen light") said 6 dB below the echo at three points early in a reply, while the linear filter is
  still learning the room, and three points late in a long one, once it has (goal <= 300 ms);
- the wake word said over the reply (the same request, ``barge_in: wake``): how often it is heard."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import numpy as np

from speaker.aec.daemon_room import run_daemon_in_room
from speaker.aec.room import Room, active_rms, scale_to
from speaker.audio.format import MIC
from speaker.core import actions as A
from speaker.core import outputs as O

AT_MS = (3000.0, 4500.0, 6000.0)
"""Early in the first reply: the linear filter is still learning the room."""
LEARNT_AT_MS = (12000.0, 14000.0, 16000.0)
"""Late in a 20 s reply: the linear filter has learnt the room (as after the first replies)."""


def _onset(x: np.ndarray, floor_db: float = 30.0) -> float:
    """Seconds to the first 10 ms frame within ``floor_db`` of the loudest one."""
    hop = MIC.rate // 100
    frames = x[: len(x) // hop * hop].reshape(-1, hop)
    energy = np.mean(frames * frames, axis=1)
    return float(np.argmax(energy >= energy.max() * 10 ** (-floor_db / 10))) * hop / MIC.rate


async def _cuts(request: np.ndarray, reply: np.ndarray, talk: np.ndarray, lead: float,
                at_ms: tuple[float, ...]) -> list[float]:
    """Speech onset -> playback cut (ms of audio) for ``talk`` said at each of ``at_ms``."""
    latencies = []
    for at in at_ms:
        with tempfile.TemporaryDirectory() as tmp:
            run = await run_daemon_in_room(Path(tmp), request=request, reply=reply, say=[(talk, at)],
                                           duration_s=len(reply) / 24000 + 25)
        cuts = [t for t, _ in run.outputs(A.StopPlayback)]
        said = run.loop.started[0] + lead if run.loop.started else None
        after = [t for t in cuts if said is not None and t >= said]
        if said is not None and after:
            latencies.append(1000 * (after[0] - said))
    return latencies


async def _run(demo: np.ndarray, reply: np.ndarray) -> tuple[int, float, list[float], list[float], int]:
    demo = demo[: round(4.5 * MIC.rate)]  # "hey jarvis, turn on the kitchen light" (a follow-up comes later)
    request = np.concatenate([np.zeros(MIC.rate), scale_to(demo, 32768 * 10 ** (-30 / 20))])
    echo = active_rms(Room().echo(reply[: 10 * 24000]))
    with tempfile.TemporaryDirectory() as tmp:
        quiet = await run_daemon_in_room(Path(tmp), request=request, reply=reply, duration_s=len(reply) / 24000 + 14)
    false = len(quiet.outputs(O.Interrupted))
    talk = scale_to(demo, echo * 10 ** (-6 / 20))
    lead = _onset(talk)
    latencies = await _cuts(request, reply[: 12 * 24000], talk, lead, AT_MS)
    learnt = await _cuts(request, reply[: 20 * 24000], talk, lead, LEARNT_AT_MS)
    woken = 0
    for at in AT_MS:
        with tempfile.TemporaryDirectory() as tmp:
            run = await run_daemon_in_room(Path(tmp), request=request, reply=reply[: 12 * 24000], say=[(talk, at)],
                                           duration_s=30, barge_in="wake")
        if run.loop.started and any(t > run.loop.started[0] for t, _ in run.outputs(O.WakeHeard)):
            woken += 1
    return false, len(reply) / 24000, latencies, learnt, woken


def print_duplex(demo: np.ndarray, reply: np.ndarray) -> None:
    try:
        false, seconds, latencies, learnt, woken = asyncio.run(_run(demo, reply))
    except ImportError as exc:  # the emulator is a dev dependency
        print(f"  through the daemon: skipped ({exc})")
        return
    print("  through the whole daemon (assemble + emulator), barge_in: auto:")
    print(f"    false self-interruptions:            {false} in {seconds:.0f} s of reply "
          f"= {false * 3600 / seconds:.0f} per hour of reply audio")
    for label, cuts, at in (("early in the first reply", latencies, AT_MS),
                            ("the linear filter learnt", learnt, LEARNT_AT_MS)):
        shown = " ".join(f"{x:.0f}" for x in cuts) or "none"
        print(f"    speech onset -> playback cut (audio), {label}: {shown} ms ({len(cuts)}/{len(at)} runs "
              "interrupted; speech 6 dB below the echo)")
    print(f"    wake word over the reply (wake only):  heard in {woken}/{len(AT_MS)} runs (6 dB below the echo)")
