"""The emulator's voice: what a scripted reply sounds like.

A handful of phrases are real speech, made once with espeak-ng by ``script/make-emulator-assets`` and
committed as small 24 kHz WAVs (so nothing speaks at run time). Any other text gets a deterministic
speech-like signal (voiced syllables with a pitch contour and pauses between words), long enough for
the text, so playback, barge-in and truncation behave as with real speech.
"""

from __future__ import annotations

import functools
import re
import zlib
from importlib import resources
from pathlib import Path

import numpy as np

from realtime_emulator.wav import read_wav

RATE = 24000
"""Realtime PCM: 24 kHz, 16-bit little-endian, mono."""

GENERIC_PHRASE = "This is the emulator speaking."
"""What the emulator says when its script has nothing more to say."""

PHRASES: dict[str, str] = {
    "speaking": GENERIC_PHRASE,
    "kitchen_light_on": "The kitchen light is on.",
    "kitchen_light_off": "The kitchen light is off.",
    "ten_past_three": "It is ten past three.",
    "timer_set": "The timer is set for five minutes.",
    "sorry": "Sorry, I could not do that.",
}
"""Bundled phrases: ``realtime_emulator/assets/emulator_<key>.wav`` speaks the text (the generator's input)."""


def asset_name(key: str) -> str:
    return f"emulator_{key}.wav"


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())


_BY_TEXT = {_normal(text): key for key, text in PHRASES.items()}


def bundled_key(text: str) -> str | None:
    """The bundled phrase this text is (case and punctuation aside), if any."""
    return _BY_TEXT.get(_normal(text))


@functools.lru_cache(maxsize=64)
def speech_for(text: str, wav: Path | None = None) -> bytes:
    """PCM16 24 kHz mono for a reply: ``wav`` if given, else the bundled recording of ``text``, else
    synthesized speech-like audio (never empty)."""
    if wav is not None:
        return read_wav(wav, RATE)
    key = bundled_key(text)
    if key is not None:
        ref = resources.files("realtime_emulator").joinpath("assets", asset_name(key))
        if ref.is_file():
            with resources.as_file(ref) as path:
                return read_wav(path, RATE)
    return synthesize(text)


def synthesize(text: str) -> bytes:
    """Deterministic speech-like audio for ``text``: one voiced burst per syllable (a falling pitch
    contour, a few harmonics, a breath of noise), short gaps between words, longer ones at commas."""
    rng = np.random.default_rng(zlib.crc32(text.encode()))
    pieces: list[np.ndarray] = [np.zeros(int(0.05 * RATE), np.float32)]
    words = re.findall(r"[\w']+|[,.;:!?]", text) or ["mm"]
    for word in words:
        if not word[0].isalnum() and word[0] != "'":
            pieces.append(np.zeros(int((0.18 if word == "," else 0.25) * RATE), np.float32))
            continue
        syllables = max(1, len(re.findall(r"[aeiouy]+", word.lower())))
        for _ in range(syllables):
            pieces.append(_syllable(rng, duration=float(rng.uniform(0.13, 0.2))))
        pieces.append(np.zeros(int(float(rng.uniform(0.04, 0.08)) * RATE), np.float32))
    pieces.append(np.zeros(int(0.1 * RATE), np.float32))
    signal = np.concatenate(pieces)
    return np.clip(np.round(signal * 32767), -32768, 32767).astype("<i2").tobytes()


def _syllable(rng: np.random.Generator, duration: float) -> np.ndarray:
    n = int(duration * RATE)
    t = np.arange(n, dtype=np.float32) / RATE
    f0 = float(rng.uniform(110, 170))
    pitch = f0 * (1.0 + 0.12 * np.linspace(0.5, -0.5, n, dtype=np.float32))
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    voiced = sum(w * np.sin(k * phase) for k, w in ((1, 1.0), (2, 0.6), (3, 0.35), (5, 0.2), (8, 0.1)))
    noise = rng.standard_normal(n).astype(np.float32) * 0.05
    envelope = np.sin(np.pi * np.clip(t / duration, 0, 1)) ** 0.6
    out: np.ndarray = ((voiced + noise) * envelope * 0.18).astype(np.float32)
    return out
