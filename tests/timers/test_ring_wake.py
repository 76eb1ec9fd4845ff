"""The timer ring is not blanked from the microphone (so the wake word can stop it): it must never fire a
wake word itself, and the wake word must still be heard over it. Real openWakeWord models, real sounds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soxr

from speaker.config.schema import BUILTIN_OWW_MODELS, WakeSettings
from speaker.core.config import CoreConfig
from speaker.device.sounds import SYNTHESIZED, TIMER
from speaker.listen.events import WakeDetected
from speaker.wake.base import WakeEngine
from speaker.wake.factory import build_wake_engine
from tests.fixtures.speech import fixture_wav, read_pcm

RING_PAUSE_S = CoreConfig().timer_pause_s


def to_mic(pcm24: bytes) -> np.ndarray:
    x = np.frombuffer(pcm24, "<i2").astype(np.float32)
    return np.asarray(soxr.resample(x, 24000, 16000), dtype=np.float32)


def detect(engine: WakeEngine, samples: np.ndarray) -> list[WakeDetected]:
    engine.reset()
    pcm = np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()
    hits: list[WakeDetected] = []
    for i in range(0, len(pcm), 320):
        hits += engine.process(pcm[i:i + 320])
    return hits


@pytest.fixture(scope="module")
def every_model() -> Iterator[WakeEngine]:
    engine = build_wake_engine(WakeSettings.model_validate({"models": [{"name": m} for m in BUILTIN_OWW_MODELS]}),
                               Path("."))
    yield engine
    engine.close()


def test_no_feedback_sound_fires_any_built_in_wake_word(every_model: WakeEngine) -> None:
    for name, make in SYNTHESIZED.items():
        sound = to_mic(make())
        cycle = np.concatenate([sound, np.zeros(int(16000 * RING_PAUSE_S), np.float32)])
        loud = np.tile(cycle, 6)
        loud *= 23000 / np.abs(loud).max()  # the microphone hears the speaker loud (-3 dBFS peaks)
        assert detect(every_model, loud) == [], f"the {name!r} sound fires a wake word"


def test_the_wake_word_is_heard_over_the_ring(every_model: WakeEngine) -> None:
    speech = np.frombuffer(read_pcm(fixture_wav("hey_jarvis")), "<i2").astype(np.float32)
    ring = to_mic(SYNTHESIZED[TIMER]())
    cycle = np.concatenate([ring, np.zeros(int(16000 * RING_PAUSE_S), np.float32)])
    background = np.tile(cycle, 1 + len(speech) // len(cycle))[: len(speech)]
    background *= np.abs(speech).max() / np.abs(background).max() * 10 ** (-6 / 20)  # ring 6 dB below the voice
    heard = 0
    for offset in (0, 4000, 8000, 16000):  # the phrase lands on different parts of the ring
        hits = detect(every_model, speech + np.roll(background, offset))
        heard += any(h.model == "hey_jarvis" for h in hits)
    assert heard >= 3, f"hey_jarvis heard over the ring {heard} of 4 times"
