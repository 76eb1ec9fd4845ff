"""Wake word engines shared by the wake tests (loading TFLite models is the slow part).

Engines keep streaming state: tests call ``reset()`` (``detect`` does) before feeding a clip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from speaker.config.schema import BUILTIN_MWW_MODELS, BUILTIN_OWW_MODELS, WakeModelSettings, WakeSettings
from speaker.listen.events import WakeDetected
from speaker.wake.base import WakeEngine
from speaker.wake.factory import build_wake_engine
from tests.fixtures.feeding import feed
from tests.fixtures.speech import read_pcm


def detect(engine: WakeEngine, wav: Path, block: int = 320) -> list[WakeDetected]:
    """Reset ``engine`` and run it over ``wav`` in ``block``-byte chunks."""
    engine.reset()
    return feed(engine.process, read_pcm(wav), block)


def _all_models(engine: Literal["openwakeword", "microwakeword"]) -> WakeSettings:
    names = BUILTIN_OWW_MODELS if engine == "openwakeword" else BUILTIN_MWW_MODELS
    return WakeSettings(engine=engine, models=[WakeModelSettings(name=n) for n in names])


@pytest.fixture(scope="session")
def oww_all() -> Iterator[WakeEngine]:
    """openWakeWord with every built-in model, default thresholds (0.5) and refractory period."""
    engine = build_wake_engine(_all_models("openwakeword"), Path.cwd())
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def mww_all() -> Iterator[WakeEngine]:
    """microWakeWord with every built-in model, each at its own probability cutoff."""
    engine = build_wake_engine(_all_models("microwakeword"), Path.cwd())
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def engines(oww_all: WakeEngine, mww_all: WakeEngine) -> dict[str, WakeEngine]:
    return {"openwakeword": oww_all, "microwakeword": mww_all}
