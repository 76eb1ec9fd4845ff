"""webrtcvad segmentation on real audio: speech start/end times, noise, chunking, reset."""

from __future__ import annotations

import pytest

from speaker.config.schema import VadSettings
from speaker.listen.events import SpeechEnded, SpeechStarted
from speaker.vad.segmenter import WARMUP_MS, SpeechEvent, SpeechSegmenter
from tests.fixtures.feeding import feed
from tests.fixtures.speech import fixture_info, fixture_wav, read_pcm


def segment(pcm: bytes, settings: VadSettings | None = None, block: int = 320) -> list[SpeechEvent]:
    return feed(SpeechSegmenter(settings or VadSettings()).process, pcm, block)


def spans(events: list[SpeechEvent]) -> list[tuple[float, float]]:
    starts = [e.t for e in events if isinstance(e, SpeechStarted)]
    ends = [e.t for e in events if isinstance(e, SpeechEnded)]
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded] * len(starts), events
    return list(zip(starts, ends, strict=True))


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
@pytest.mark.parametrize("aggressiveness", [2, 3])
def test_speech_start_and_end_match_the_known_utterance(frame_ms: int, aggressiveness: int) -> None:
    info = fixture_info("speech_end")
    (known_start, known_end), = info.speech
    settings = VadSettings(frame_ms=frame_ms, aggressiveness=aggressiveness)  # type: ignore[arg-type]
    (start, end), = spans(segment(read_pcm(info.path), settings))
    assert abs(end - known_end) <= 0.1
    assert abs(start - known_start) <= 0.1


def test_speech_ended_arrives_when_the_hangover_has_passed() -> None:
    info = fixture_info("speech_end")
    vad = SpeechSegmenter(VadSettings(hangover_ms=600, frame_ms=30))
    pcm = read_pcm(info.path)
    emitted_at = None
    for offset in range(0, len(pcm), 320):
        events = vad.process(pcm[offset:offset + 320])
        if any(isinstance(e, SpeechEnded) for e in events):
            ended = next(e for e in events if isinstance(e, SpeechEnded))
            emitted_at = vad.time
            break
    assert emitted_at is not None
    assert 0.6 - 1e-9 <= emitted_at - ended.t < 0.6 + 0.03 + 0.01  # hangover, rounded up to a frame, plus a block
    assert not vad.in_speech


def test_every_command_is_one_segment() -> None:
    info = fixture_info("commands")
    found = spans(segment(read_pcm(info.path)))
    assert len(found) == len(info.speech) == 16
    for (start, end), (known_start, known_end) in zip(found, info.speech, strict=True):
        assert abs(start - known_start) <= 0.1 and abs(end - known_end) <= 0.2


@pytest.mark.parametrize("noise", ["white_noise", "pink_noise"])
def test_no_speech_in_noise_at_default_aggressiveness(noise: str) -> None:
    """Includes the very start: a new webrtcvad calls its first ~90 ms of any input speech."""
    vad = SpeechSegmenter(VadSettings())
    assert feed(vad.process, read_pcm(fixture_wav(noise))) == []
    assert not vad.in_speech


def test_no_speech_in_digital_silence() -> None:
    vad = SpeechSegmenter(VadSettings())
    assert feed(vad.process, bytes(32000 * 5)) == []
    assert vad.time == 5.0


def test_speech_that_has_not_ended_stays_in_speech() -> None:
    info = fixture_info("speech_end")
    (_, known_end), = info.speech
    pcm = read_pcm(info.path)[:int((known_end + 0.3) * 16000) * 2]  # cut before the hangover passes
    vad = SpeechSegmenter(VadSettings())
    events = feed(vad.process, pcm)
    assert [type(e) for e in events] == [SpeechStarted]
    assert vad.in_speech


class ScriptedVad:
    """Stands in for webrtcvad: frame decisions from a string ('1' voiced, '.' not)."""

    def __init__(self, script: str) -> None:
        self.decisions = iter(script)

    def is_speech(self, frame: bytes, rate: int) -> bool:
        assert len(frame) == 2 * rate * 30 // 1000
        return next(self.decisions) == "1"


def scripted(script: str, **settings: int) -> list[SpeechEvent]:
    """Run the segmenter's own logic on scripted 30 ms decisions (after the warm-up frames)."""
    warmup = "." * 5  # WARMUP_MS in 30 ms frames
    vad = SpeechSegmenter(VadSettings(frame_ms=30, **settings), classifier=ScriptedVad(warmup + script))  # type: ignore[arg-type]
    return feed(vad.process, bytes(960 * len(warmup + script)), 960)


def test_start_needs_start_ms_of_consecutive_voiced_frames_and_reports_the_first() -> None:
    w = 0.15  # warm-up: 5 frames of 30 ms
    assert scripted("11.11.11." + "." * 30, start_ms=90) == []
    assert scripted("..111" + "." * 30, start_ms=90)[0] == SpeechStarted(t=pytest.approx(w + 0.06))
    assert scripted("..11111" + "." * 30, start_ms=150)[0] == SpeechStarted(t=pytest.approx(w + 0.06))
    assert scripted("..1111" + "." * 30, start_ms=150) == []


def test_end_reports_the_last_voiced_frame_after_hangover_ms_of_unvoiced() -> None:
    w = 0.15
    # voiced 0-5 with a 300 ms gap (shorter than the hangover) inside, then silence
    events = scripted("111" + "." * 10 + "111" + "." * 40, hangover_ms=600)
    assert events == [SpeechStarted(t=pytest.approx(w)), SpeechEnded(t=pytest.approx(w + 0.48))]
    # a 600 ms gap ends the first segment
    events = scripted("111" + "." * 20 + "111" + "." * 40, hangover_ms=600)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded, SpeechStarted, SpeechEnded]
    assert events[1] == SpeechEnded(t=pytest.approx(w + 0.09))


def test_warm_up_ignores_the_first_decisions_after_creation_and_reset() -> None:
    vad = SpeechSegmenter(VadSettings(frame_ms=30), classifier=ScriptedVad("1" * 100))
    assert feed(vad.process, bytes(960 * 20), 960) == [SpeechStarted(t=pytest.approx(WARMUP_MS / 1000))]
    vad.reset()
    assert feed(vad.process, bytes(960 * 20), 960) == [SpeechStarted(t=pytest.approx(WARMUP_MS / 1000))]


@pytest.mark.parametrize("block", [2, 94, 480, 960, 4000, 1 << 20])
def test_chunk_length_does_not_change_the_events(block: int) -> None:
    pcm = read_pcm(fixture_wav("commands"))[: 16000 * 2 * 12]
    assert segment(pcm, block=block) == segment(pcm)


def test_reset_restarts_time_and_forgets_speech() -> None:
    info = fixture_info("speech_end")
    pcm = read_pcm(info.path)
    vad = SpeechSegmenter(VadSettings())
    midway = int(2.0 * 16000) * 2
    feed(vad.process, pcm[:midway])
    assert vad.in_speech
    vad.reset()
    assert not vad.in_speech and vad.time == 0.0
    again = feed(vad.process, pcm)
    assert spans(again) == spans(segment(pcm))


def test_settings_that_webrtcvad_cannot_do_are_rejected() -> None:
    with pytest.raises(ValueError, match="cannot do"):
        SpeechSegmenter(VadSettings(), rate=44100)
