"""Building engines from settings: built-ins, custom model files, and clear errors for bad paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pymicro_wakeword import microwakeword as mww_lib
from pyopen_wakeword import openwakeword as oww_lib

from speaker.config.schema import WakeModelSettings, WakeSettings
from speaker.errors import ConfigError
from speaker.wake.factory import build_wake_engine
from speaker.wake.microwakeword import MicroWakeWordEngine
from speaker.wake.openwakeword import OpenWakeWordEngine
from tests.fixtures.speech import fixture_wav
from tests.wake.conftest import detect

OWW_MODELS = Path(oww_lib.__file__).parent / "models"
MWW_MODELS = Path(mww_lib.__file__).parent / "models"


def _settings(engine: str, *names: str, **extra: object) -> WakeSettings:
    return WakeSettings.model_validate({"engine": engine, "models": [{"name": n} for n in names], **extra})


def test_custom_tflite_by_relative_path_is_resolved_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    shutil.copy(OWW_MODELS / "hey_jarvis.tflite", tmp_path / "models" / "my_word.tflite")
    engine = build_wake_engine(_settings("openwakeword", "models/my_word.tflite", "alexa"), tmp_path)
    try:
        assert isinstance(engine, OpenWakeWordEngine)
        assert engine.names == ("my_word", "alexa")
        assert [e.model for e in detect(engine, fixture_wav("hey_jarvis"))] == ["my_word"]
    finally:
        engine.close()


def test_custom_microwakeword_json_uses_its_own_cutoff(tmp_path: Path) -> None:
    description = json.loads((MWW_MODELS / "alexa.json").read_text())
    description["model"] = "custom.tflite"
    description["micro"]["probability_cutoff"] = 0.8
    (tmp_path / "custom.json").write_text(json.dumps(description))
    shutil.copy(MWW_MODELS / "alexa.tflite", tmp_path / "custom.tflite")
    settings = WakeSettings(engine="microwakeword",
                            models=[WakeModelSettings(name=str(tmp_path / "custom.json"), label="computer")])
    engine = build_wake_engine(settings, Path("/nonexistent"))  # absolute paths ignore base_dir
    try:
        assert isinstance(engine, MicroWakeWordEngine)
        assert engine.names == ("computer",)
        assert engine.thresholds == (0.8,)
        assert [e.model for e in detect(engine, fixture_wav("alexa"))] == ["computer"]
    finally:
        engine.close()


def test_microwakeword_engine_gets_the_configured_threshold() -> None:
    settings = WakeSettings(engine="microwakeword", models=[WakeModelSettings(name="okay_nabu", threshold=0.6)])
    engine = build_wake_engine(settings, Path())
    try:
        assert engine.names == ("okay_nabu",)
        assert isinstance(engine, MicroWakeWordEngine) and engine.thresholds == (0.6,)
    finally:
        engine.close()


def test_missing_model_file_names_the_key_and_the_resolved_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"wake\.models\[1\]\.name: model file .*models/nope\.tflite does not exist"):
        build_wake_engine(_settings("openwakeword", "hey_jarvis", "models/nope.tflite"), tmp_path)


@pytest.mark.parametrize(("engine", "filename", "message"), [
    ("openwakeword", "x.json", "openWakeWord models are .tflite files"),
    ("microwakeword", "x.tflite", "by its .json file"),
])
def test_wrong_kind_of_model_file(tmp_path: Path, engine: str, filename: str, message: str) -> None:
    (tmp_path / filename).write_bytes(b"{}")
    with pytest.raises(ConfigError, match=message):
        build_wake_engine(_settings(engine, filename), tmp_path)


def test_broken_microwakeword_description(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"model": "bad.tflite"}')
    with pytest.raises(ConfigError, match="not a microWakeWord model description"):
        build_wake_engine(_settings("microwakeword", "bad.json"), tmp_path)


def test_microwakeword_description_naming_a_missing_tflite(tmp_path: Path) -> None:
    description = json.loads((MWW_MODELS / "alexa.json").read_text())
    (tmp_path / "lonely.json").write_text(json.dumps(description))
    with pytest.raises(ConfigError, match=r"names the model file .*alexa\.tflite, which does not exist"):
        build_wake_engine(_settings("microwakeword", "lonely.json"), tmp_path)
