"""The front end: pre-roll, wake/VAD toggling, and event times in front end stream time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from speaker.config.schema import VadSettings, WakeSettings
from speaker.listen.events import FrontEndEvent, SpeechEnded, SpeechStarted, WakeDetected
from speaker.listen.frontend import FrontEnd
from speaker.vad.segmenter import SpeechSegmenter
from speaker.wake.base import WakeEngine
from speaker.wake.factory import build_wake_engine
from tests.fixtures.feeding import feed
from tests.fixtures.speech import fixture_info, fixture_wav, read_pcm


class FakeWake:
    """A WakeEngine that fires at given engine-time seconds and records what it was given."""

    names = ("fake",)

    def __init__(self, fire_at: list[float]) -> None:
        self.fire_at = fire_at
        self.samples = 0
        self.fed = 0
        self.resets = 0

    def process(self, pcm: bytes) -> list[WakeDetected]:
        before = self.samples / 16000
        self.samples += len(pcm) // 2
        self.fed += len(pcm)
        now = self.samples / 16000
        return [WakeDetected("fake", 0.9, now) for t in self.fire_at if before < t <= now]

    def reset(self) -> None:
        self.samples = 0
        self.resets += 1

    def close(self) -> None:
        pass


def ramp(seconds: float) -> bytes:
    """Audio whose every sample is distinct (mod 2^16), so slices can be located."""
    return (np.arange(int(seconds * 16000)) % 65536 - 32768).astype("<i2").tobytes()


@pytest.fixture(scope="module")
def hey_jarvis_oww() -> Iterator[WakeEngine]:
    engine = build_wake_engine(WakeSettings(), Path.cwd())
    yield engine
    engine.close()


def test_wake_is_fed_only_while_enabled_and_reset_when_switched_back_on() -> None:
    wake = FakeWake(fire_at=[0.5])
    front = FrontEnd(wake, SpeechSegmenter(VadSettings()))
    assert front.wake_enabled
    events = feed(front.process, bytes(32000))  # 1 s: fires at engine time 0.5
    assert events == [WakeDetected("fake", 0.9, 0.5)]
    front.wake_enabled = False
    assert feed(front.process, bytes(64000)) == []  # 2 s the engine never sees
    assert wake.fed == 32000 and wake.resets == 0
    front.wake_enabled = True
    events = feed(front.process, bytes(32000))
    assert wake.resets == 1  # no splice of old and new audio
    assert events == [WakeDetected("fake", 0.9, 3.5)]  # front end time, not engine time (0.5)


def test_vad_events_are_in_front_end_time_after_a_gap_and_reset_vad() -> None:
    info = fixture_info("speech_end")
    (start, end), = info.speech
    speech = read_pcm(info.path)
    front = FrontEnd(None, SpeechSegmenter(VadSettings()))
    front.vad_enabled = False
    feed(front.process, bytes(32000 * 2))  # 2 s with the VAD off
    front.vad_enabled = True
    events = feed(front.process, speech)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    assert abs(events[0].t - (2 + start)) <= 0.1 and abs(events[1].t - (2 + end)) <= 0.1
    front.reset_vad()
    events = feed(front.process, speech)
    offset = 2 + info.duration
    assert abs(events[0].t - (offset + start)) <= 0.1 and abs(events[1].t - (offset + end)) <= 0.1


def test_vad_disabled_gives_no_speech_events() -> None:
    front = FrontEnd(None, SpeechSegmenter(VadSettings()))
    front.vad_enabled = False
    assert feed(front.process, read_pcm(fixture_wav("speech_end"))) == []


def test_real_wake_word_through_the_front_end(hey_jarvis_oww: WakeEngine) -> None:
    info = fixture_info("hey_jarvis")
    (start, end), = info.speech
    hey_jarvis_oww.reset()
    front = FrontEnd(hey_jarvis_oww, SpeechSegmenter(VadSettings()))
    events = feed(front.process, read_pcm(info.path))
    wakes = [e for e in events if isinstance(e, WakeDetected)]
    speech = [e for e in events if not isinstance(e, WakeDetected)]
    assert [w.model for w in wakes] == ["hey_jarvis"] and start < wakes[0].t < end + 1.0
    assert [type(e) for e in speech] == [SpeechStarted, SpeechEnded]


def test_wake_disabled_during_the_wake_word_does_not_fire(hey_jarvis_oww: WakeEngine) -> None:
    info = fixture_info("hey_jarvis")
    pcm = read_pcm(info.path)
    hey_jarvis_oww.reset()
    front = FrontEnd(hey_jarvis_oww, SpeechSegmenter(VadSettings()))
    front.wake_enabled = False
    assert not [e for e in feed(front.process, pcm) if isinstance(e, WakeDetected)]
    front.wake_enabled = True  # the same words again: detected, at front end time
    wakes = [e for e in feed(front.process, pcm) if isinstance(e, WakeDetected)]
    assert len(wakes) == 1 and info.duration + info.speech[0][0] < wakes[0].t < 2 * info.duration


def _events_of(events: list[FrontEndEvent], kind: type) -> list[FrontEndEvent]:
    return [e for e in events if isinstance(e, kind)]


@pytest.mark.parametrize("engine_name", ["openwakeword", "microwakeword"])
def test_bundled_demo_recording(engine_name: str) -> None:
    """speaker/assets/demo_input.wav (script/make-assets): one "hey jarvis", and two utterances for the
    VAD: wake word + command (0.4 s apart, inside the hangover), then the follow-up."""
    from speaker.audio.wavfile import read_wav

    asset = Path(__file__).parents[2] / "speaker" / "assets" / "demo_input.wav"
    assert asset.stat().st_size < 400_000
    engine = build_wake_engine(WakeSettings(engine=engine_name), Path.cwd())  # type: ignore[arg-type]
    try:
        front = FrontEnd(engine, SpeechSegmenter(VadSettings()))
        events = feed(front.process, read_wav(asset, 16000))
    finally:
        engine.close()
    wakes = _events_of(events, WakeDetected)
    assert [w.model for w in wakes] == ["hey_jarvis"]  # type: ignore[attr-defined]
    assert 1.6 < wakes[0].t < 3.0  # "hey jarvis" is 1.50-2.32 s
    starts = [e.t for e in _events_of(events, SpeechStarted)]
    ends = [e.t for e in _events_of(events, SpeechEnded)]
    assert len(starts) == len(ends) == 2
    assert abs(starts[0] - 1.50) < 0.1 and abs(ends[0] - 4.06) < 0.15  # wake word + command
    assert abs(starts[1] - 7.56) < 0.1 and abs(ends[1] - 8.50) < 0.15  # follow-up


def test_the_wake_word_hears_the_ear_and_the_vad_the_frame() -> None:
    """Where the daemon cancels its echo, the wake word hears the linear filter's output (``ear``)
    and the VAD the echo-cancelled frame: speech in the frame, silence in the ear."""
    info = fixture_info("speech_end")
    speech = read_pcm(info.path)
    heard: list[bytes] = []

    class Recording(FakeWake):
        def process(self, pcm: bytes) -> list[WakeDetected]:
            heard.append(pcm)
            return super().process(pcm)

    front = FrontEnd(Recording(fire_at=[]), SpeechSegmenter(VadSettings()))
    events: list[FrontEndEvent] = []
    for i in range(0, len(speech) - 639, 640):
        events += front.process(speech[i:i + 640], ear=bytes(640))
    assert any(isinstance(e, SpeechStarted) for e in events)  # the VAD heard the frames
    assert heard and set(b"".join(heard)) == {0}  # the wake word heard only the ear
