"""The simulated room for the echo tests: the daemon's own voice (the emulator's reply clips, 24 kHz)
back into the microphone through speaker.aec.room, with near-end speech from the espeak-ng fixtures
at a chosen level relative to the echo. Deterministic (seeded)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from speaker.aec.daemon_room import RoomRun, run_daemon_in_room
from speaker.aec.room import Room, RoomLoopback, RoomSpec, active_rms, scale_to, to_int16, to_mic_rate
from speaker.audio.format import MIC, REALTIME
from speaker.audio.wavfile import read_wav
from tests.fixtures.speech import fixture_info, read_pcm

__all__ = ["Room", "RoomLoopback", "RoomRun", "RoomSpec", "Scene", "far_end", "near_speech", "run_in_room", "scene"]

ASSETS = Path(__file__).parents[2] / "emulator" / "realtime_emulator" / "assets"


@cache
def far_end(seconds: float = 10.0) -> np.ndarray:
    """A reply as the daemon plays it: the emulator's voice clips back to back (24 kHz int16),
    repeated or cut to ``seconds``."""
    clips = [np.frombuffer(read_wav(p, REALTIME.rate), dtype="<i2") for p in sorted(ASSETS.glob("emulator_*.wav"))]
    one = np.concatenate(clips)
    n = round(seconds * REALTIME.rate)
    return np.resize(one, n).astype(np.int16)


def near_speech(name: str, *, lead_in_s: float | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """A fixture's samples (float, 16 kHz) and where its speech is (seconds)."""
    info = fixture_info(name, lead_in_s=lead_in_s)
    samples = np.frombuffer(read_pcm(info.path), dtype="<i2").astype(np.float64)
    return samples, (info.speech[0][0], info.speech[-1][1])


@dataclass(frozen=True)
class Scene:
    mic: np.ndarray
    """What the microphone records (int16, 16 kHz)."""
    reference: np.ndarray
    """What the speaker played (int16, 24 kHz): the canceller's reference."""
    echo: np.ndarray
    near: np.ndarray
    """The near-end part alone (float, 16 kHz)."""
    speech: tuple[float, float] | None
    """Seconds where the near-end speaks."""


def scene(*, seconds: float = 10.0, spec: RoomSpec | None = None, near: str | None = None,
          near_at_s: float = 5.0, near_db: float = -6.0, lead_in_s: float | None = None) -> Scene:
    """``seconds`` of reply in the room; ``near`` (a fixture name) starts at ``near_at_s`` with its
    speech ``near_db`` relative to the echo (both as active speech levels)."""
    room = Room(spec)
    far = far_end(seconds)
    echo = room.echo(far)
    near_part = np.zeros(len(echo))
    span = None
    if near is not None:
        samples, (s0, s1) = near_speech(near, lead_in_s=lead_in_s)
        speech = samples[round(s0 * MIC.rate):round(s1 * MIC.rate)]
        gain = active_rms(echo) * 10 ** (near_db / 20) / active_rms(speech)
        at = round(near_at_s * MIC.rate) - round(s0 * MIC.rate)
        placed = samples * gain
        lo, hi = max(0, at), min(len(near_part), at + len(placed))
        near_part[lo:hi] = placed[lo - at:hi - at]
        span = (near_at_s, near_at_s + s1 - s0)
    mic = to_int16(echo + near_part + room.noise(len(echo)))
    return Scene(mic, far, echo, near_part, span)


def reference_16k(far: np.ndarray) -> np.ndarray:
    return to_int16(to_mic_rate(far))


def scaled(x: np.ndarray, rms: float) -> np.ndarray:
    return scale_to(x, rms)


# ---------------------------------------------------------------------- the whole daemon in the room

REPLY_S = 10.0
NEAR_DBFS = -30.0
"""The level (active RMS) of the user's first request (a normal voice at a far-field microphone)."""


def speech_part(name: str) -> tuple[np.ndarray, float]:
    """A fixture cut to its speech with 50 ms before it (float, 16 kHz), and the speech's length."""
    samples, (s0, s1) = near_speech(name)
    lead = round(0.05 * MIC.rate)
    return samples[max(0, round(s0 * MIC.rate) - lead):round(s1 * MIC.rate)], s1 - s0


def echo_rms(spec: RoomSpec | None = None) -> float:
    """The active level of the reply's echo at the microphone."""
    return active_rms(Room(spec).echo(far_end(REPLY_S)))


def first_request() -> np.ndarray:
    """1 s of silence, "hey jarvis", 0.3 s, "turn on the kitchen light", at ``NEAR_DBFS``."""
    wake, _ = speech_part("hey_jarvis")
    command, _ = speech_part("speech_end")
    level = 32768 * 10 ** (NEAR_DBFS / 20)
    return np.concatenate([np.zeros(MIC.rate), scale_to(wake, level), np.zeros(round(0.3 * MIC.rate)),
                           scale_to(command, level)])


async def run_in_room(tmp_path: Path, *, reply_s: float = REPLY_S, **options: Any) -> RoomRun:
    """The whole daemon in the room (``speaker.aec.daemon_room``): the fixtures' request, a reply of
    the emulator's voice ``reply_s`` long."""
    return await run_daemon_in_room(tmp_path, request=first_request(), reply=far_end(reply_s), **options)
