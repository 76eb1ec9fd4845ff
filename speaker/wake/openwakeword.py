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

from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures
from pyopen_wakeword.openwakeword import MEL_SAMPLES

from speaker.listen.events import WakeDetected
from speaker.wake.tflite_threads import InterpreterOptions, interpreter_options
from speaker.wake.trigger import Trigger

_LOGGER = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
RATE = 16000


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

    Audio is handed to the feature extractor exactly when its next 80 ms hop is complete, instead of
    chunk by chunk: the library shifts a 10-second buffer on every call, so this saves most of that
    work while computing the same windows at the same stream positions as feeding it directly.
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
        self._features.reset()
        for model in self._models:
            model.reset()
        for trigger in self._triggers:
            trigger.reset()
        self._pending.clear()
        self._bytes = 0

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
