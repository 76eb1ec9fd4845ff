"""Settings of ``wake:``: the local wake word engine and its models."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from speaker.config.realtime import VOICES
from speaker.config.section import Section

BUILTIN_OWW_MODELS = ("hey_jarvis", "alexa", "hey_mycroft", "hey_rhasspy", "okay_nabu")
BUILTIN_MWW_MODELS = ("hey_jarvis", "alexa", "hey_mycroft", "okay_nabu")


class WakeModelSettings(Section):
    """One wake word."""

    name: str
    """A built-in model (hey_jarvis, alexa, hey_mycroft, hey_rhasspy, okay_nabu) or a path to a model file."""
    threshold: float | None = Field(default=None, gt=0, lt=1)
    """Score that triggers; null = the engine default (0.5 openWakeWord, the model's own cutoff microWakeWord)."""
    label: str | None = None
    """Name reported on detections; defaults to the model name."""
    voice: str | None = None
    """Voice for conversations opened by this wake word (overrides realtime.voice)."""
    instructions: str | None = None
    """Extra instructions for conversations opened by this wake word."""

    @property
    def display_name(self) -> str:
        if self.label:
            return self.label
        return Path(self.name).stem if ("/" in self.name or self.name.endswith(".tflite")
                                         or self.name.endswith(".json")) else self.name

    @field_validator("voice")
    @classmethod
    def _voice(cls, value: str | None) -> str | None:
        if value is not None and value not in VOICES:
            raise ValueError(f"unknown voice {value!r}; choose one of {', '.join(VOICES)}")
        return value


class WakeSettings(Section):
    """The local wake word: nothing leaves the house before it fires."""

    engine: Literal["openwakeword", "microwakeword"] = "openwakeword"
    """openWakeWord (default; more models, custom .tflite) or microWakeWord (about 10x less CPU)."""
    models: list[WakeModelSettings] = Field(default_factory=lambda: [WakeModelSettings(name="hey_jarvis")])
    """One or more wake words, listened for at once."""
    refractory_s: float = Field(default=2.0, ge=0, le=60)
    """After a detection, ignore the same model for this long."""
    threads: int = Field(default=1, ge=1, le=8)
    """TFLite threads. One is fastest on a Pi: the default thread pool wastes CPU on 80 ms inferences."""

    @model_validator(mode="after")
    def _models(self) -> WakeSettings:
        if not self.models:
            raise ValueError("models: list at least one wake word model")
        builtins = BUILTIN_OWW_MODELS if self.engine == "openwakeword" else BUILTIN_MWW_MODELS
        for model in self.models:
            is_path = "/" in model.name or model.name.endswith((".tflite", ".json"))
            if not is_path and model.name not in builtins:
                raise ValueError(
                    f"models: {model.name!r} is not a built-in {self.engine} model "
                    f"({', '.join(builtins)}) nor a path to a model file"
                )
        names = [m.display_name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError("models: two models have the same name; give one a 'label'")
        return self
