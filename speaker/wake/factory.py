"""Build the configured wake word engine from settings."""

from __future__ import annotations

import json
from pathlib import Path

from speaker.config.loader import resolve_relative
from speaker.config.schema import BUILTIN_MWW_MODELS, BUILTIN_OWW_MODELS, WakeModelSettings, WakeSettings
from speaker.errors import ConfigError
from speaker.wake.base import WakeEngine


def build_wake_engine(settings: WakeSettings, base_dir: Path) -> WakeEngine:
    """Load every model in ``settings`` into one engine of ``settings.engine``.

    Model names that are not built-ins are file paths; relative ones are resolved against
    ``base_dir`` (the folder of the config file). openWakeWord takes ``.tflite`` files,
    microWakeWord its ``.json`` model descriptions. A missing or unusable file raises ConfigError.
    """
    if settings.engine == "openwakeword":
        from speaker.wake.openwakeword import OpenWakeWordEngine, OwwModelSpec

        oww_specs = [OwwModelSpec(m.display_name, _source(i, m, base_dir, "openwakeword"), m.threshold)
                     for i, m in enumerate(settings.models)]
        return OpenWakeWordEngine(oww_specs, refractory_s=settings.refractory_s, threads=settings.threads)

    from speaker.wake.microwakeword import MicroWakeWordEngine, MwwModelSpec

    mww_specs = [MwwModelSpec(m.display_name, _source(i, m, base_dir, "microwakeword"), m.threshold)
                 for i, m in enumerate(settings.models)]
    return MicroWakeWordEngine(mww_specs, refractory_s=settings.refractory_s, threads=settings.threads)


def is_model_path(name: str) -> bool:
    """The rule the settings use: a name with a slash or a model file suffix is a path."""
    return "/" in name or name.endswith((".tflite", ".json"))


def _source(index: int, model: WakeModelSettings, base_dir: Path, engine: str) -> str | Path:
    where = f"wake.models[{index}].name"
    builtins = BUILTIN_OWW_MODELS if engine == "openwakeword" else BUILTIN_MWW_MODELS
    if not is_model_path(model.name):
        if model.name not in builtins:
            raise ConfigError(f"{where}: {model.name!r} is not a built-in {engine} model ({', '.join(builtins)})")
        return model.name
    path = resolve_relative(base_dir, model.name)
    if not path.is_file():
        raise ConfigError(f"{where}: model file {path} does not exist")
    if engine == "openwakeword":
        if path.suffix != ".tflite":
            raise ConfigError(f"{where}: openWakeWord models are .tflite files, not {path.name}")
        return path
    if path.suffix != ".json":
        raise ConfigError(f"{where}: give a microWakeWord model by its .json file (it names the .tflite), "
                          f"not {path.name}")
    try:
        description = json.loads(path.read_text(encoding="utf-8"))
        tflite = path.parent / description["model"]
        float(description["micro"]["probability_cutoff"])
        int(description["micro"]["sliding_window_size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{where}: {path} is not a microWakeWord model description ({exc!r})") from None
    if not tflite.is_file():
        raise ConfigError(f"{where}: {path.name} names the model file {tflite}, which does not exist")
    return path
