"""microWakeWord models through pymicro-wakeword (the light engine: ~10x less CPU than openWakeWord).

One shared audio front end (10 ms feature windows) feeds every model. Each model reports the mean of
its last few probabilities (the model's ``sliding_window_size``); the default threshold is the
model's own ``probability_cutoff`` from its JSON file. Interpreters run with ``WakeSettings.threads``
threads and without XNNPACK (it changes the int8 models' scores).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

from speaker.listen.events import WakeDetected
from speaker.wake.tflite_threads import InterpreterOptions, interpreter_options
from speaker.wake.trigger import Trigger

_LOGGER = logging.getLogger(__name__)

RATE = 16000


@dataclass(frozen=True)
class MwwModelSpec:
    """One model to load: a built-in name or a model ``.json`` path, and how it triggers."""

    name: str
    """Display name reported on detections."""
    source: str | Path
    """A built-in model name (``hey_jarvis``…) or the path of a microWakeWord ``.json`` file."""
    threshold: float | None = None
    """None = the model's own ``probability_cutoff``."""


class MicroWakeWordEngine:
    """:class:`~speaker.wake.base.WakeEngine` running microWakeWord models."""

    def __init__(self, models: Sequence[MwwModelSpec], *, refractory_s: float, threads: int = 1) -> None:
        if not models:
            raise ValueError("give at least one model")
        with interpreter_options("pymicro-wakeword", InterpreterOptions(threads, xnnpack=False)):
            self._models = [_load(spec.source) for spec in models]
        self._features = MicroWakeWordFeatures()
        self._triggers = [
            Trigger(spec.name, spec.threshold if spec.threshold is not None else float(model.probability_cutoff),
                    refractory_s)
            for spec, model in zip(models, self._models, strict=True)
        ]
        self._pairs = list(zip(self._models, self._triggers, strict=True))
        self.names = tuple(spec.name for spec in models)
        self._bytes = 0
        _LOGGER.info("microWakeWord: %s (threads %d)", ", ".join(
            f"{t.name}>{t.threshold:g}" for t in self._triggers), threads)

    def process(self, pcm: bytes) -> list[WakeDetected]:
        self._bytes += len(pcm)
        now = (self._bytes // 2) / RATE
        events: list[WakeDetected] = []
        for features in self._features.process_streaming(pcm):
            for model, trigger in self._pairs:
                score = model.process_streaming_prob(features)
                if score is not None:
                    event = trigger.update(score, now)
                    if event is not None:
                        events.append(event)
        return events

    def reset(self) -> None:
        self._features.reset()
        for model in self._models:
            model.reset()  # reloads the interpreter (through our options) to clear its streaming state
        for trigger in self._triggers:
            trigger.reset()
        self._bytes = 0

    def close(self) -> None:
        for model in self._models:
            model.close()

    @property
    def thresholds(self) -> tuple[float, ...]:
        return tuple(t.threshold for t in self._triggers)


def _load(source: str | Path) -> MicroWakeWord:
    if isinstance(source, Path):
        return MicroWakeWord.from_config(source)
    return MicroWakeWord.from_builtin(Model(source))
