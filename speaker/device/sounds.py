"""Feedback sounds, synthesized by the project (no files to ship or license): short, soft and distinct.

Each sound can be replaced by a WAV of your own and given its own loudness in the ``feedback``
section of the config. ``build_sounds`` turns those settings into the table the runner plays from
(24 kHz mono pcm16, volume already applied).

Names (what the conversation core and the daemon ask for):

==============  ==============================================================================
``wake``        the wake word was heard (opt-in: the microphone is blanked while it plays)
``thinking``    a tool call is taking a while
``error``       a conversation failed (service unreachable or refused, no reply)
``mute``        the microphone was muted
``unmute``      the microphone was unmuted
``timer``       one ring of a finished timer (the core repeats it while a timer rings)
``preannounce`` the chime before an announcement
==============  ==============================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from speaker.audio.gain import apply_gain_bytes, volume_gain
from speaker.audio.wavfile import WavFormatError, read_wav
from speaker.config.schema import FeedbackSettings, SoundSettings
from speaker.errors import ConfigError

log = logging.getLogger(__name__)

RATE = 24000
WAKE = "wake"
THINKING = "thinking"
ERROR = "error"
MUTE = "mute"
UNMUTE = "unmute"
TIMER = "timer"
PREANNOUNCE = "preannounce"
SOUND_NAMES = (WAKE, THINKING, ERROR, MUTE, UNMUTE, TIMER, PREANNOUNCE)

MAX_SECONDS = {TIMER: 10.0}
"""Custom sounds are clipped to this length (default 3 s): a long file would blank the microphone."""
DEFAULT_MAX_SECONDS = 3.0


def tone(freqs: list[float], seconds: float, *, volume: float = 0.25, gap_s: float = 0.0,
         decay: float = 0.0) -> bytes:
    """A sequence of sine tones with 10 ms fades (no clicks), as 24 kHz pcm16. ``decay`` > 0 gives each
    note a bell-like exponential decay (per second)."""
    parts = []
    n = int(RATE * seconds)
    t = np.arange(n) / RATE
    fade = min(n // 2, int(RATE * 0.01))
    env = np.ones(n)
    env[:fade] = np.linspace(0, 1, fade)
    env[n - fade:] = np.linspace(1, 0, fade)
    if decay > 0:
        env = env * np.exp(-decay * t)
    for f in freqs:
        # a touch of the octave makes a softer, rounder note than a bare sine
        note = np.sin(2 * np.pi * f * t) + 0.2 * np.sin(4 * np.pi * f * t)
        parts.append(note / 1.2 * env * volume)
        if gap_s:
            parts.append(np.zeros(int(RATE * gap_s)))
    wave = np.concatenate(parts)
    return (wave * 32767).astype("<i2").tobytes()


def _timer_ring() -> bytes:
    # two bursts of four quick beeps: an alarm you notice, with gaps the wake word can be heard in
    burst = tone([1046.5, 1046.5, 1046.5, 1046.5], 0.09, volume=0.5, gap_s=0.06)
    pause = np.zeros(int(RATE * 0.25), dtype="<i2").tobytes()
    return burst + pause + burst


SYNTHESIZED: dict[str, Callable[[], bytes]] = {
    WAKE: lambda: tone([659.3, 880.0], 0.07, volume=0.45),
    THINKING: lambda: tone([523.3], 0.12, volume=0.3, decay=12.0),
    ERROR: lambda: tone([440.0, 330.0], 0.15, volume=0.5, gap_s=0.05),
    MUTE: lambda: tone([659.3, 440.0], 0.09, volume=0.45, gap_s=0.02),
    UNMUTE: lambda: tone([440.0, 659.3], 0.09, volume=0.45, gap_s=0.02),
    TIMER: _timer_ring,
    PREANNOUNCE: lambda: tone([523.3, 659.3, 784.0], 0.16, volume=0.45, decay=6.0),
}
"""Each sound at full feedback volume (the settings scale it down)."""


def seconds_of(pcm: bytes) -> float:
    """Duration of 24 kHz mono pcm16."""
    return len(pcm) / (2 * RATE)


def build_sounds(settings: FeedbackSettings, base_dir: Path) -> dict[str, bytes]:
    """The feedback table for the runner: every enabled sound, synthesized or read from its file,
    at the configured loudness. A missing or unreadable file is a ConfigError naming the key."""
    table: dict[str, bytes] = {}
    master = volume_gain(settings.volume)
    for name in SOUND_NAMES:
        sound: SoundSettings = getattr(settings.sounds, name)
        if not sound.enabled:
            continue
        pcm = _load(name, sound, base_dir) if sound.file is not None else SYNTHESIZED[name]()
        gain = master * volume_gain(sound.volume)
        table[name] = apply_gain_bytes(pcm, gain)
    return table


def _load(name: str, sound: SoundSettings, base_dir: Path) -> bytes:
    assert sound.file is not None
    path = sound.file if sound.file.is_absolute() else base_dir / sound.file
    key = f"feedback.sounds.{name}.file"
    if not path.is_file():
        raise ConfigError(f"{key}: {path} does not exist")
    try:
        pcm = read_wav(path, RATE)
    except (WavFormatError, OSError) as exc:
        raise ConfigError(f"{key}: {exc}") from None
    limit = MAX_SECONDS.get(name, DEFAULT_MAX_SECONDS)
    if seconds_of(pcm) > limit:
        log.warning("%s: %s is %.1f s long; only the first %.0f s are played", key, path, seconds_of(pcm), limit)
        pcm = pcm[: int(limit * RATE) * 2]
    return pcm
