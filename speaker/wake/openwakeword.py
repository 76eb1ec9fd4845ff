"""openWakeWord models through pyopen-wakeword (the default engine).

One shared feature extractor (mel spectrogram + embedding, the expensive part) feeds every model;
each extra model costs little. Interpreters run with ``WakeSettings.threads`` threads and the XNNPACK
delegate (see :mod:`speaker.wake.tflite_threads`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures
from pyopen_wakeword.openwakeword import AUTOFILL_SECONDS, MEL_SAMPLES, SAMPLE_RATE, SAMPLES_PER_CHUNK

from speaker.listen.events import WakeDetected
from speaker.wake.tflite_threads import InterpreterOptions, TfLiteOptionsError, interpreter_options
from speaker.wake.trigger import Trigger

_LOGGER = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
RATE = 16000
if (AUTOFILL_SECONDS * SAMPLE_RATE) % SAMPLES_PER_CHUNK:  # what _warm_up relies on
    raise ImportError("pyopen-wakeword's zero pre-fill is no longer a whole number of hops")

_State = tuple[tuple[np.ndarray, int, np.ndarray, int], list[tuple[np.ndarray, int]]]


@dataclass(frozen=True)
class OwwModelSpec:
    """One model to load: a built-in name or a ``.tflite`` path, and how it triggers."""

    name: str
    """Display name reported on detections."""
    source: str | Path
    """A built-in model name (``hey_jarvis``…) or the path of a ``.tflite`` file."""
    threshold: float | None = None
    """None = 0.5."""


class OpenWakeWordEngine:
    """:class:`~speaker.wake.base.WakeEngine` running openWakeWord models.

    Two things differ from driving pyopen-wakeword chunk by chunk (the library version is pinned and
    checked, because both read its state attributes):

    * Audio is handed to the feature extractor exactly when its next 80 ms hop is complete: the
      library shifts a 10-second buffer on every call, so this saves most of that work while
      computing the same windows at the same stream positions.
    * The library starts (and restarts after ``reset``) with 8 s of zeros to process, so that a
      wake word can be detected at once; that is ~125 ms of CPU on a fast x86 core, several times
      more on a Pi, all inside one ``process`` call on the event loop. We process those zeros once
      when the engine is built and copy the resulting state back on ``reset``.
    """

    def __init__(self, models: Sequence[OwwModelSpec], *, refractory_s: float, threads: int = 1,
                 xnnpack: bool = True) -> None:
        if not models:
            raise ValueError("give at least one model")
        with interpreter_options("pyopen-wakeword", InterpreterOptions(threads, xnnpack)) as handles:
            self._features = OpenWakeWordFeatures.from_builtin()
            self._models = [_load(spec.source) for spec in models]
        self.xnnpack = all(h.xnnpack_active for h in handles)
        self._triggers = [Trigger(spec.name, DEFAULT_THRESHOLD if spec.threshold is None else spec.threshold,
                                  refractory_s)
                          for spec in models]
        self._pairs = list(zip(self._models, self._triggers, strict=True))
        self.names = tuple(spec.name for spec in models)
        self._pending = bytearray()
        self._bytes = 0
        self._initial = self._warm_up()
        _LOGGER.info("openWakeWord: %s (threads %d%s)", ", ".join(
            f"{t.name}>{t.threshold:g}" for t in self._triggers), threads,
            ", XNNPACK" if self.xnnpack else "")

    def process(self, pcm: bytes) -> list[WakeDetected]:
        pending = self._pending
        pending += pcm
        self._bytes += len(pcm)
        now = (self._bytes // 2) / RATE  # an odd trailing byte waits for its other half
        events: list[WakeDetected] = []
        features = self._features
        while True:
            need = 2 * (MEL_SAMPLES - features.new_audio_samples)
            if need <= 0:  # right after a reset the library holds 8 s of zeros: any audio runs it
                need = len(pending) & ~1
            if need == 0 or len(pending) < need:
                return events
            chunk = bytes(memoryview(pending)[:need])
            del pending[:need]
            for embedding in features.process_streaming(chunk):
                for model, trigger in self._pairs:
                    for score in model.process_streaming(embedding):
                        event = trigger.update(score, now)
                        if event is not None:
                            events.append(event)

    def reset(self) -> None:
        features, models = self._initial
        self._features.audio[:], self._features.new_audio_samples, self._features.mels[:], \
            self._features.new_mels = features
        for model, (embeddings, new) in zip(self._models, models, strict=True):
            model.embeddings[:], model.new_embeddings = embeddings, new
        for trigger in self._triggers:
            trigger.reset()
        self._pending.clear()
        self._bytes = 0

    def _warm_up(self) -> _State:
        """Run the library's zero pre-fill now and keep the state it leaves (see the class docstring)."""
        features = self._features
        for name in ("audio", "new_audio_samples", "mels", "new_mels"):
            if not hasattr(features, name):
                raise TfLiteOptionsError(f"pyopen-wakeword's OpenWakeWordFeatures has no {name!r} any more; "
                                         "speaker/wake/openwakeword.py needs updating")
        # one hop of zeros: the pre-fill (a multiple of the hop) plus this keeps every window where it was
        for embedding in features.process_streaming(bytes(2 * SAMPLES_PER_CHUNK)):
            for model in self._models:
                for _ in model.process_streaming(embedding):
                    pass
        return ((features.audio.copy(), features.new_audio_samples, features.mels.copy(), features.new_mels),
                [(model.embeddings.copy(), model.new_embeddings) for model in self._models])

    def close(self) -> None:
        for model in self._models:
            model.close()
        self._features.close()

    @property
    def thresholds(self) -> tuple[float, ...]:
        return tuple(t.threshold for t in self._triggers)


def _load(source: str | Path) -> OpenWakeWord:
    if isinstance(source, Path):
        return OpenWakeWord.from_model(source)
    return OpenWakeWord.from_builtin(Model(source))
