"""Feedback sounds: the table built from the config, and the microphone ignoring the speaker's own chime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import pytest

from speaker.audio.format import MIC, REALTIME, AudioFormat
from speaker.audio.wavfile import write_wav
from speaker.config.schema import FeedbackSettings
from speaker.core.conversation import Conversation, CoreConfig
from speaker.core.events import SetMuted, TimersRinging
from speaker.device.sounds import SOUND_NAMES, build_sounds, seconds_of
from speaker.errors import ConfigError
from speaker.runner import Runner


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class RecordingFrontEnd:
    """Keeps every frame the runner hands to the wake word / VAD front end."""

    def __init__(self) -> None:
        self.wake_enabled = True
        self.vad_enabled = False
        self.frames: list[bytes] = []

    @property
    def time(self) -> float:
        return len(self.frames) * 0.01

    def process(self, frame: bytes, ear: bytes | None = None) -> list[Any]:
        self.frames.append(frame)
        return []

    def reset_vad(self) -> None:
        pass


class Sink:
    format = REALTIME

    def __init__(self) -> None:
        self.written = bytearray()
        self.volume = 100

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        pass

    def write(self, pcm: bytes) -> None:
        self.written += pcm

    def clear(self) -> None:
        pass

    async def drain(self) -> None:
        pass

    @property
    def written_ms(self) -> float:
        return REALTIME.ms_for_bytes(len(self.written))

    @property
    def played_ms(self) -> float:
        return self.written_ms  # plays instantly: nothing is queued ahead of a sound

    def set_volume(self, percent: int) -> None:
        self.volume = percent


class LoudSource:
    """1 s of loud 10 ms frames; the clock moves 10 ms per frame, as a paced microphone would."""

    format: AudioFormat = MIC

    def __init__(self, clock: Clock, frames: int = 100) -> None:
        self._clock = clock
        self._frames = frames

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        pass

    async def frames(self) -> AsyncIterator[bytes]:
        frame = (np.full(160, 8000, dtype="<i2")).tobytes()
        for _ in range(self._frames):
            self._clock.t += 0.01
            yield frame
            await asyncio.sleep(0)


def make_runner(clock: Clock, frontend: RecordingFrontEnd, sink: Sink, sounds: dict[str, bytes]) -> Runner:
    core = Conversation(CoreConfig(echo_tail_s=0.2, sound_s={n: seconds_of(p) for n, p in sounds.items()}))

    async def never(request: Any) -> Any:
        raise AssertionError("no session in this test")

    class NoTools:
        async def execute(self, name: str, arguments: str) -> Any:
            raise AssertionError("no tools in this test")

    return Runner(core, frontend, sink, never, NoTools(), asyncio.Queue(), make_resampler=lambda: None,
                  sounds=sounds, clock=clock)


def blanked(frames: list[bytes]) -> list[int]:
    return [i for i, f in enumerate(frames) if not any(f)]


async def test_the_mute_chime_is_blanked_from_the_microphone_for_its_length_plus_the_echo_tail() -> None:
    clock, frontend, sink = Clock(), RecordingFrontEnd(), Sink()
    chime = bytes(REALTIME.bytes_for_ms(300))  # 0.3 s
    runner = make_runner(clock, frontend, sink, {"mute": chime})
    runner.inbox.put_nowait(SetMuted(True))  # the core asks for the 'mute' sound; the runner plays it
    await asyncio.wait_for(runner.run(LoudSource(clock)), 5)
    assert len(sink.written) == len(chime)
    silent = blanked(frontend.frames)
    # frames arriving during 0.3 s of chime + 0.2 s echo tail: 50 frames of 10 ms, from the first one
    assert silent == list(range(len(silent))) and 49 <= len(silent) <= 51
    assert all(len(f) == 320 for f in frontend.frames), "stream time must not change"


async def test_the_timer_ring_is_not_blanked_so_the_wake_word_can_stop_it() -> None:
    clock, frontend, sink = Clock(), RecordingFrontEnd(), Sink()
    ring = bytes(REALTIME.bytes_for_ms(500))
    runner = make_runner(clock, frontend, sink, {"timer": ring})
    runner.inbox.put_nowait(TimersRinging(("tea",)))
    await asyncio.wait_for(runner.run(LoudSource(clock, frames=20)), 5)
    assert len(sink.written) >= len(ring), "the core rang the timer"
    assert blanked(frontend.frames) == []


async def test_a_disabled_sound_plays_nothing_and_blanks_nothing() -> None:
    clock, frontend, sink = Clock(), RecordingFrontEnd(), Sink()
    runner = make_runner(clock, frontend, sink, {})
    runner.inbox.put_nowait(SetMuted(True))
    await asyncio.wait_for(runner.run(LoudSource(clock, frames=10)), 5)
    assert sink.written == b"" and blanked(frontend.frames) == []


def test_every_sound_is_synthesized_short_and_the_wake_chime_is_opt_in() -> None:
    table = build_sounds(FeedbackSettings(), Path("."))
    assert set(table) == set(SOUND_NAMES) - {"wake"}
    for name, pcm in table.items():
        assert 0.05 < seconds_of(pcm) < (2.0 if name == "timer" else 0.7), name
        assert np.abs(np.frombuffer(pcm, "<i2")).max() > 1000, f"{name} is inaudible"
    with_wake = build_sounds(FeedbackSettings.model_validate({"sounds": {"wake": {"enabled": True}}}), Path("."))
    assert "wake" in with_wake


def test_volume_scales_the_sounds() -> None:
    loud = build_sounds(FeedbackSettings(volume=100), Path("."))["error"]
    quiet = build_sounds(FeedbackSettings.model_validate({"volume": 100, "sounds": {"error": {"volume": 50}}}),
                         Path("."))["error"]
    ratio = np.abs(np.frombuffer(quiet, "<i2")).max() / np.abs(np.frombuffer(loud, "<i2")).max()
    assert ratio == pytest.approx(0.25, abs=0.01)  # the same squared curve as the speaker volume


def test_a_wav_overrides_a_sound_relative_to_the_config_file(tmp_path: Path) -> None:
    tone = (np.sin(np.arange(8000) / 16000 * 2 * np.pi * 440) * 10000).astype("<i2").tobytes()
    write_wav(tmp_path / "sounds" / "ding.wav", tone, 16000)  # 0.5 s at 16 kHz
    settings = FeedbackSettings.model_validate({"volume": 100, "sounds": {"timer": {"file": "sounds/ding.wav"}}})
    table = build_sounds(settings, tmp_path)
    assert seconds_of(table["timer"]) == pytest.approx(0.5, abs=0.01)  # resampled to 24 kHz


def test_a_long_custom_sound_is_clipped(tmp_path: Path) -> None:
    write_wav(tmp_path / "long.wav", bytes(2 * 24000 * 8), 24000)
    table = build_sounds(FeedbackSettings.model_validate({"sounds": {"mute": {"file": str(tmp_path / "long.wav")}}}),
                         tmp_path)
    assert seconds_of(table["mute"]) == 3.0


def test_a_missing_or_broken_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"feedback\.sounds\.error\.file: .*missing\.wav does not exist"):
        build_sounds(FeedbackSettings.model_validate({"sounds": {"error": {"file": "missing.wav"}}}), tmp_path)
    (tmp_path / "text.wav").write_text("not a wav")
    with pytest.raises(ConfigError, match=r"feedback\.sounds\.error\.file: .*not a WAV"):
        build_sounds(FeedbackSettings.model_validate({"sounds": {"error": {"file": "text.wav"}}}), tmp_path)
