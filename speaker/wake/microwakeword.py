"""microWakeWord models through pymicro-wakeword (the light engine: ~10x less CPU than openWakeWord).

One shared audio front end (10 ms feature windows) feeds every model. A model runs once per
``stride`` windows (30 ms) and its score is the mean of its last ``sliding_window_size`` outputs;
the default threshold is the model's own ``probability_cutoff`` from its JSON file. Interpreters run
with ``WakeSettings.threads`` threads and without XNNPACK (it changes the int8 models' scores).

Two details of pymicro-wakeword 2.5 are worked around here (so this module reads two private
attributes, ``_features`` and ``_probabilities``; tflite_threads.py checks the library version):

* ``process_streaming_prob`` returns 0.0 for the windows between two inferences, which a rising-edge
  trigger would read as the score dropping: we only take a score when the model has just run
  (its ``_features`` list is emptied by an inference).
* it averages with ``statistics.mean`` (exact fractions: ~15 µs a call, a quarter of the engine's
  CPU). We average the model's window of outputs ourselves and raise the library's window size out
  of reach so it never does.
"""

from __future__ import annotations

import logging
import math
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

from speaker.listen.events import WakeDetected
from speaker.wake.tflite_threads import InterpreterOptions, TfLiteOptionsError, interpreter_options
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
        self._entries = [(model, trigger, *_take_over_averaging(model))
                         for model, trigger in zip(self._models, self._triggers, strict=True)]
        self.names = tuple(spec.name for spec in models)
        self._bytes = 0
        _LOGGER.info("microWakeWord: %s (threads %d)", ", ".join(
            f"{t.name}>{t.threshold:g}" for t in self._triggers), threads)

    def process(self, pcm: bytes) -> list[WakeDetected]:
        self._bytes += len(pcm)
        now = (self._bytes // 2) / RATE
        events: list[WakeDetected] = []
        for features in self._features.process_streaming(pcm):
            for model, trigger, pending, outputs, window in self._entries:
                if model.process_streaming_prob(features) is None or pending or len(outputs) < window:
                    continue  # closed, between two inferences, or still filling the window
                event = trigger.update(math.fsum(outputs) / window, now)
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


def _take_over_averaging(model: MicroWakeWord) -> tuple[list[object], deque[float], int]:
    """The model's pending-window list and output window, and its window size; then the library's own
    averaging is switched off (see the module docstring)."""
    pending = getattr(model, "_features", None)
    outputs = getattr(model, "_probabilities", None)
    window = model.sliding_window_size
    if not isinstance(pending, list) or not isinstance(outputs, deque) or outputs.maxlen != window:
        raise TfLiteOptionsError("pymicro-wakeword's MicroWakeWord internals changed (_features, _probabilities); "
                                 "speaker/wake/microwakeword.py needs updating")
    model.sliding_window_size = sys.maxsize  # never reached: the library stops averaging
    return pending, outputs, window


def _load(source: str | Path) -> MicroWakeWord:
    if isinstance(source, Path):
        return MicroWakeWord.from_config(source)
    return MicroWakeWord.from_builtin(Model(source))
