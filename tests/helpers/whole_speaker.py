"""The whole speaker (``assemble``) for end-to-end tests: real wake word and VAD on file audio paced in
real time (or a test's own microphone), the Realtime EMULATOR, a real Mosquitto broker, the runner in a
task; and the audio those tests say to it, cut from the speech fixtures."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime_emulator import Emulator
from speaker.app import Speaker, assemble
from speaker.audio.ports import AudioSource
from speaker.audio.wavfile import write_wav
from speaker.config import load_settings
from tests.fixtures.speech import fixture_wav, read_pcm
from tests.ha.support import ROOT
from tests.helpers.broker import Broker

KEY = "sk-emulator-ha-test"
RATE = 16000


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), "<i2")


def clip(name: str, start_s: float = 0.0) -> np.ndarray:
    return np.frombuffer(read_pcm(fixture_wav(name)), "<i2")[int(start_s * RATE):]


def input_wav(path: Path, *parts: np.ndarray) -> Path:
    write_wav(path, np.concatenate(parts).astype("<i2").tobytes(), RATE)
    return path


def asked_and_answered(path: Path, *, answered: bool) -> Path:
    """The wake word, a request, quiet while the speaker asks back, then an answer or nothing."""
    answer = [clip("speech_end", 1.0)] if answered else []
    return input_wav(path, clip("hey_jarvis"), clip("speech_end", 1.0), silence(4.5), *answer, silence(10))


@dataclass
class Running:
    speaker: Speaker
    stop: asyncio.Event
    task: asyncio.Task[None]
    """The runner: done when the input has ended (or ``stop`` is set)."""


@contextlib.asynccontextmanager
async def whole_speaker(tmp_path: Path, broker: Broker, emu: Emulator, audio: Path | None = None, *,
                        source: AudioSource | None = None, key: str = KEY, follow_up_s: float = 1,
                        language: str | None = "en", packs: Sequence[Path] = (), sections: str = "",
                        ) -> AsyncIterator[Running]:
    """The speaker of the site ``kitchen`` on ``broker``, talking to ``emu``, hearing ``audio`` (a file) or
    ``source``, its state in ``tmp_path / "state"``, once its MQTT connection is up and its command topics
    subscribed. ``language``: of the input transcription (None: off, unless the speaker turns it on
    itself); ``packs``: its only tool packs; ``sections``: further top-level YAML sections. Its
    configuration is ``tmp_path / "speaker.yaml"``. On exit the runner is stopped (nothing to stop when the
    input has already ended)."""
    transcription = f"  transcription: {{language: {language}}}\n" if language is not None else ""
    config = tmp_path / "speaker.yaml"
    config.write_text(f"""\
realtime:
  url: {emu.url}
{transcription}conversation:
  follow_up_s: {follow_up_s}
  idle_close_s: {follow_up_s}
mqtt:
  host: {broker.host}
  port: {broker.port}
  site_id: kitchen
  reconnect_max_s: 1
tools:
  packs: [{", ".join(str(p) for p in packs)}]
state_dir: {tmp_path / "state"}
{sections}""")
    stop = asyncio.Event()
    async with assemble(load_settings([config]), api_key=key, input_file=audio, source=source,
                        output_file=tmp_path / "out.wav") as speaker:
        assert speaker.mqtt is not None and await speaker.mqtt.wait_connected(5)
        await speaker.mqtt.ensure_subscribed(f"{ROOT}/cmd/+", 5)
        task = asyncio.create_task(speaker.runner.run(speaker.source, stop=stop), name="test:runner")
        try:
            yield Running(speaker, stop, task)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
