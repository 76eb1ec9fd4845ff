"""Real models on synthetic speech: every positive fires its model, no negative fires anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from speaker.config.schema import WakeModelSettings, WakeSettings
from speaker.wake.base import WakeEngine
from speaker.wake.factory import build_wake_engine
from speaker.wake.microwakeword import MicroWakeWordEngine, MwwModelSpec
from speaker.wake.openwakeword import OpenWakeWordEngine, OwwModelSpec
from tests.fixtures.feeding import feed
from tests.fixtures.speech import LEAD_INS, NEGATIVES, POSITIVES, fixture_info, fixture_wav, read_pcm
from tests.wake.conftest import detect

CASES = [(name, engine) for name in POSITIVES for engine in ("openwakeword", "microwakeword")
         if engine == "openwakeword" or POSITIVES[name].mww is not None]

# k of n lead-in offsets that must detect. "hey jarvis" on openWakeWord is borderline in -60 dBFS noise
# (feasibility §1.5: 2 of 3 runs, min 0.48); everything else detected in every run there and here.
REQUIRED = {("hey_jarvis", "openwakeword"): len(LEAD_INS) - 1}


@pytest.mark.parametrize(("name", "engine_name"), CASES)
def test_positive_fires_its_model_once_per_utterance(engines: dict[str, WakeEngine], name: str,
                                                      engine_name: str) -> None:
    phrase = POSITIVES[name]
    model = phrase.oww if engine_name == "openwakeword" else phrase.mww
    detected = 0
    for lead in LEAD_INS:
        info = fixture_info(name, lead_in_s=lead)
        events = detect(engines[engine_name], info.path)
        assert all(e.model == model for e in events), f"another model fired at offset {lead}: {events}"
        assert len(events) <= 1, f"more than one event for one utterance at offset {lead}: {events}"
        if events:
            detected += 1
            (start, end), = info.speech
            # fires during or within 1 s after the utterance (oww okay_nabu takes ~0.6 s), never before it
            assert start < events[0].t < end + 1.0, (events, info.speech)
            assert 0.0 < events[0].score <= 1.0
    assert detected >= REQUIRED.get((name, engine_name), len(LEAD_INS)), f"{detected} of {len(LEAD_INS)}"


def test_microwakeword_has_no_hey_rhasspy_and_nothing_else_fires_on_it(mww_all: WakeEngine) -> None:
    assert "hey_rhasspy" not in mww_all.names
    assert detect(mww_all, fixture_wav("hey_rhasspy")) == []


@pytest.mark.parametrize("negative", NEGATIVES)
@pytest.mark.parametrize("engine_name", ["openwakeword", "microwakeword"])
def test_negatives_fire_no_model(engines: dict[str, WakeEngine], engine_name: str, negative: str) -> None:
    assert detect(engines[engine_name], fixture_wav(negative)) == []


def test_default_settings_detect_hey_jarvis_and_ignore_a_command() -> None:
    engine = build_wake_engine(WakeSettings(), Path.cwd())
    try:
        assert engine.names == ("hey_jarvis",)
        assert [e.model for e in detect(engine, fixture_wav("hey_jarvis"))] == ["hey_jarvis"]
        assert detect(engine, fixture_wav("speech_end")) == []
    finally:
        engine.close()


@pytest.mark.parametrize("engine_name", ["openwakeword", "microwakeword"])
def test_chunk_size_changes_only_the_timing_not_the_scores(engines: dict[str, WakeEngine],
                                                           engine_name: str) -> None:
    engine = engines[engine_name]
    wav = fixture_wav("alexa")
    reference = detect(engine, wav, block=320)
    assert reference
    for block in (101, 333, 2560, 32001):  # odd sizes split samples across calls
        events = detect(engine, wav, block=block)
        assert [(e.model, e.score) for e in events] == [(e.model, e.score) for e in reference], block
        assert abs(events[0].t - reference[0].t) <= block / 32000 + 0.01, block


@pytest.mark.parametrize("engine_name", ["openwakeword", "microwakeword"])
def test_reset_restarts_stream_time(engines: dict[str, WakeEngine], engine_name: str) -> None:
    engine = engines[engine_name]
    wav = fixture_wav("okay_nabu")
    first = detect(engine, wav)
    feed(engine.process, read_pcm(wav))  # more audio without a reset: times move on
    again = detect(engine, wav)
    assert first and first == again


def _twice(gap_s: float) -> bytes:
    pcm = read_pcm(fixture_wav("hey_mycroft"))
    return pcm + bytes(int(gap_s * 32000)) + pcm


def test_refractory_period_is_per_model_and_in_stream_seconds() -> None:
    pcm = _twice(0.0)  # the same utterance again 3.8 s later
    short = OpenWakeWordEngine([OwwModelSpec("hey_mycroft", "hey_mycroft")], refractory_s=2.0)
    long = MicroWakeWordEngine([MwwModelSpec("hey_mycroft", "hey_mycroft")], refractory_s=10.0)
    long_oww = OpenWakeWordEngine([OwwModelSpec("hey_mycroft", "hey_mycroft")], refractory_s=10.0)
    try:
        two = feed(short.process, pcm)
        assert len(two) == 2
        assert 3.5 < two[1].t - two[0].t < 4.2
        assert len(feed(long.process, pcm)) == 1
        assert len(feed(long_oww.process, pcm)) == 1
    finally:
        for engine in (short, long, long_oww):
            engine.close()


def test_openwakeword_engine_scores_what_the_library_scores_fed_directly() -> None:
    """Hop batching and the pre-computed zero pre-fill change no score and no detection time."""
    from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures

    pcm = read_pcm(fixture_wav("hey_jarvis"))
    features, model = OpenWakeWordFeatures.from_builtin(), OpenWakeWord.from_builtin(Model.HEY_JARVIS)
    scores, seen = [], 0
    for offset in range(0, len(pcm), 320):
        seen += len(pcm[offset:offset + 320]) // 2
        scores += [(p, seen / 16000) for e in features.process_streaming(pcm[offset:offset + 320])
                   for p in model.process_streaming(e)]
    features.close()
    model.close()
    for threshold in (0.3, 0.6, 0.9):
        engine = OpenWakeWordEngine([OwwModelSpec("hey_jarvis", "hey_jarvis", threshold)], refractory_s=2.0)
        fresh = feed(engine.process, pcm)
        after_reset = detect(engine, fixture_wav("hey_jarvis"))
        engine.close()
        score, t = next((p, t) for p, t in scores if p > threshold)
        for (event,) in (fresh, after_reset):
            assert event.score == pytest.approx(score, abs=1e-4) and event.t == t


def test_microwakeword_scores_are_the_library_sliding_mean() -> None:
    """Our averaging (instead of the library's statistics.mean) gives the library's scores, and
    detections come from the same window of audio."""
    from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

    pcm = read_pcm(fixture_wav("okay_nabu"))
    model, features = MicroWakeWord.from_builtin(Model.OKAY_NABU), MicroWakeWordFeatures()
    means, seen = [], 0  # (score, stream seconds) of every library output
    for offset in range(0, len(pcm), 320):
        seen += len(pcm[offset:offset + 320]) // 2
        means += [(p, seen / 16000) for f in features.process_streaming(pcm[offset:offset + 320])
                  if (p := model.process_streaming_prob(f))]
    model.close()
    for threshold in (0.3, 0.6, 0.85):
        engine = MicroWakeWordEngine([MwwModelSpec("okay_nabu", "okay_nabu", threshold)], refractory_s=2.0)
        (event,) = detect(engine, fixture_wav("okay_nabu"))
        engine.close()
        score, t = next((p, t) for p, t in means if p > threshold)
        assert event.score == pytest.approx(score, abs=1e-9) and event.t == t


@pytest.mark.parametrize("name", [n for n, p in POSITIVES.items() if p.mww])
def test_microwakeword_without_refractory_still_fires_once_per_utterance(name: str) -> None:
    """The library reports 0.0 between inferences; read as scores they would re-arm the trigger
    every 30 ms."""
    engine = MicroWakeWordEngine([MwwModelSpec(name, name)], refractory_s=0.0)
    try:
        assert len(detect(engine, fixture_wav(name))) == 1
    finally:
        engine.close()


def test_microwakeword_threshold_defaults_to_the_model_cutoff_and_can_be_overridden() -> None:
    default = MicroWakeWordEngine([MwwModelSpec("hey_jarvis", "hey_jarvis"), MwwModelSpec("alexa", "alexa")],
                                  refractory_s=2.0)
    strict = MicroWakeWordEngine([MwwModelSpec("hey_jarvis", "hey_jarvis", threshold=0.999)], refractory_s=2.0)
    try:
        assert default.thresholds == (0.97, 0.90)
        assert strict.thresholds == (0.999,)
        assert detect(default, fixture_wav("hey_jarvis"))
        assert detect(strict, fixture_wav("hey_jarvis")) == []  # mean of uint8 outputs tops out at 0.996
    finally:
        default.close()
        strict.close()


def test_openwakeword_threshold_default_is_half_and_override_changes_what_fires() -> None:
    settings = WakeSettings(models=[WakeModelSettings(name="okay_nabu"),
                                    WakeModelSettings(name="hey_jarvis", threshold=0.99, label="strict")])
    engine = build_wake_engine(settings, Path.cwd())
    try:
        assert isinstance(engine, OpenWakeWordEngine)
        assert engine.thresholds == (0.5, 0.99)
        assert engine.names == ("okay_nabu", "strict")
        assert [e.model for e in detect(engine, fixture_wav("okay_nabu"))] == ["okay_nabu"]
        assert detect(engine, fixture_wav("hey_jarvis", lead_in_s=2.11)) == []  # peaks at 0.92 here
    finally:
        engine.close()
