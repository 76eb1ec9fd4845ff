"""The emulator's voice (bundled espeak phrases, a speech-like fallback) and its energy VAD."""

from __future__ import annotations

from importlib import resources

import numpy as np

from realtime_emulator.vad import EnergyVad, SpeechStarted, SpeechStopped
from realtime_emulator.voice import GENERIC_PHRASE, PHRASES, asset_name, bundled_key, speech_for, synthesize
from tests.emulator.wire import speech


def test_every_phrase_is_bundled_small_and_24_khz() -> None:
    total = 0
    for key in PHRASES:
        ref = resources.files("realtime_emulator").joinpath("assets", asset_name(key))
        data = ref.read_bytes()
        total += len(data)
        assert data[:4] == b"RIFF" and int.from_bytes(data[24:28], "little") == 24000
    assert total < 600_000
    assert {"The kitchen light is on.", "It is ten past three.", GENERIC_PHRASE} <= set(PHRASES.values())


def test_bundled_phrases_match_loosely_and_sound_like_speech() -> None:
    assert bundled_key("the kitchen light is ON") == "kitchen_light_on"
    assert bundled_key("It is ten past four.") is None
    pcm = np.frombuffer(speech_for("The kitchen light is on."), "<i2").astype(np.float32)
    assert 1.0 < len(pcm) / 24000 < 2.5
    assert 20 * np.log10(np.sqrt(np.mean(pcm**2)) / 32768) > -30  # real speech level


def test_any_other_text_gets_deterministic_speech_like_audio() -> None:
    text = "Your parcel arrives tomorrow, between nine and eleven."
    a, b = speech_for(text), synthesize(text)
    assert a == b and len(a) % 2 == 0
    seconds = len(a) / 48000
    assert 2.0 < seconds < 6.0  # about the time it takes to say it
    assert synthesize("Short.") != synthesize("Other.")
    frames = np.frombuffer(a, "<i2").astype(np.float32)[: len(a) // 2 // 480 * 480].reshape(-1, 480)
    loud = np.sqrt(np.mean(frames**2, axis=1)) > 300
    assert 0.4 < loud.mean() < 0.95  # syllables and pauses, not a constant tone


def test_energy_vad_finds_the_speech() -> None:
    vad = EnergyVad(threshold=0.5, silence_duration_ms=500)
    audio = speech("It is ten past three.", lead_s=1.0, tail_s=1.0)
    events = []
    for i in range(0, len(audio), 960):  # 20 ms appends
        events += vad.feed(audio[i:i + 960])
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    start, stop = events
    assert isinstance(stop, SpeechStopped)
    assert 950 <= start.audio_start_ms <= 1100
    spoken_ms = len(speech_for("It is ten past three.")) / 48
    assert stop.audio_end_ms >= 1000 + spoken_ms - 150 + 500 - 100
    assert not vad.in_speech


def test_energy_vad_ignores_a_quiet_room_and_a_click() -> None:
    vad = EnergyVad(threshold=0.5, silence_duration_ms=200)
    quiet = (np.random.default_rng(1).standard_normal(48000) * 33).astype("<i2").tobytes()  # -60 dBFS
    click = np.zeros(4800, "<i2")
    click[100:300] = 20000
    assert vad.feed(quiet) == [] and vad.feed(click.tobytes()) == []
