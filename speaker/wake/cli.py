"""``speaker wake-test FILE``: run the configured wake word engine over a WAV as fast as possible and
print one JSON line per detection: ``{"t": 2.59, "model": "hey_jarvis", "score": 0.8542}``.

``t`` is seconds from the start of the file (to the end of the 10 ms block that fired); ``score`` is
the value that crossed the threshold. ``--engine``, ``--model`` (repeatable) and ``--threshold``
override the configuration's ``wake`` section.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from speaker.audio.format import MIC
from speaker.audio.wavfile import WavFormatError, read_wav
from speaker.config.loader import LoadedConfig
from speaker.config.schema import WakeModelSettings, WakeSettings
from speaker.errors import ConfigError
from speaker.wake.factory import build_wake_engine, is_model_path

BLOCK_MS = 10


def wake_test(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """Entry point of ``speaker wake-test``; returns the exit status (0 ok, 2 unreadable file)."""
    settings = _override(loaded.settings.wake, engine=args.engine, models=args.model, threshold=args.threshold)
    path: Path = args.file
    try:
        pcm = read_wav(path, MIC.rate)
    except (OSError, WavFormatError, EOFError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"speaker wake-test: cannot read {path}: {reason}", file=sys.stderr)
        return 2
    engine = build_wake_engine(settings, loaded.base_dir)
    try:
        step = MIC.bytes_for_ms(BLOCK_MS)
        for offset in range(0, len(pcm), step):
            for event in engine.process(pcm[offset:offset + step]):
                line = {"t": round(event.t, 3), "model": event.model, "score": round(event.score, 4)}
                print(json.dumps(line), flush=True)
    finally:
        engine.close()
    return 0


def _override(wake: WakeSettings, *, engine: str | None, models: list[str] | None,
              threshold: float | None) -> WakeSettings:
    if engine is None and not models and threshold is None:
        return wake
    data = wake.model_dump()
    if engine is not None:
        data["engine"] = engine
    if models:
        # paths on the command line are relative to the working directory, not to the config file
        data["models"] = [WakeModelSettings(name=str(Path(n).resolve()) if is_model_path(n) else n).model_dump()
                          for n in models]
    if threshold is not None:
        for model in data["models"]:
            model["threshold"] = threshold
    try:
        return WakeSettings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'wake'}: "
                             f"{str(e['msg']).removeprefix('Value error, ')}" for e in exc.errors())
        raise ConfigError(f"wake-test options: {problems}") from None
