"""Input fed faster than real time (files, the soak bench): the core's clock and the stream's time part
ways, and what is about the audio must be judged in stream time."""

from __future__ import annotations

from typing import Any

from speaker.core import actions as A
from speaker.core.conversation import Phase
from speaker.core.events import MicFrame, PlaybackDrained, SessionReady, Tick, Wake
from speaker.listen.events import SpeechEnded, SpeechStarted
from tests.core.test_conversation import FRAME, Driver, cfg


def fast(d: Driver, seconds: float) -> list[Any]:
    """``seconds`` of audio in no time on the core's clock."""
    out: list[Any] = []
    for _ in range(round(seconds * 100)):
        d.t += 0.01
        out += d.feed(MicFrame(FRAME, d.t), 0.0)
    return out


def fast_request(d: Driver) -> list[Any]:
    """A 1.5 s request and the VAD's hangover, fed fast; returns what its end decided."""
    d.feed(SpeechStarted(d.t))
    fast(d, 1.5)
    end = d.t
    fast(d, 0.6)
    return d.feed(SpeechEnded(end))


def blank(d: Driver) -> bool:
    """Whether the microphone is blanked now (the wake word and the VAD hear silence)."""
    return [a for a in d.log if isinstance(a, A.Listen)][-1].blank


def test_the_next_request_right_after_an_idle_close_is_heard_when_the_input_runs_ahead() -> None:
    """The soak's every-other failure: the echo tail after a reply (0.3 s) was measured on the core's
    clock, and a fast-fed next wake word and request fell inside it, so their speech was ignored."""
    d = Driver(cfg(follow_up_s=0, idle_close_s=0, echo_tail_s=0.3))
    d.wake_and_connect()
    d.say(1.0)
    out = d.reply()
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    d.sink.play(10_000)
    d.feed(PlaybackDrained(token, d.sink.played_ms))
    d.mic(0.01)
    assert d.core.phase is Phase.IDLE
    fast(d, 1.0)  # the next clip: silence, "hey jarvis, turn on the light", all within 0.3 s of wall time
    d.feed(Wake("hey_jarvis", 0.9, d.t))
    d.feed(SessionReady(d.core.session))
    assert d.sent_types(fast_request(d)) == ["input_audio_buffer.commit", "response.create"]


def test_the_echo_of_the_reply_is_still_not_a_new_turn() -> None:
    d = Driver(cfg(follow_up_s=5, echo_tail_s=0.3))
    d.wake_and_connect()
    d.say(1.0)
    out = d.reply()
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    d.sink.play(10_000)
    d.feed(PlaybackDrained(token, d.sink.played_ms))
    d.feed(SpeechStarted(d.t + 0.1))  # the reply's echo, just after it ended
    assert d.core.phase is Phase.FOLLOW_UP
    d.mic(0.5)
    d.feed(SpeechStarted(d.t))
    assert d.core.phase is Phase.LISTENING


def test_the_wake_sound_blanks_fast_fed_input_only_as_long_as_it_lasts_in_the_stream() -> None:
    """The wake sound (0.3 s) and its echo tail (0.3 s) blank the microphone. Measured on the core's clock
    alone, a window of 0.6 s covered any amount of fast-fed audio, and with the clock standing still the
    microphone stayed blank for good: the request after the wake word never reached the VAD or the service."""
    d = Driver(cfg(sound_s={"wake": 0.3}, echo_tail_s=0.3))
    fast(d, 1.0)
    out = d.feed(Wake("hey_jarvis", 0.9, d.t))
    assert A.PlaySound("wake") in out and blank(d)
    d.feed(SessionReady(d.core.session))
    fast(d, 0.55)
    assert blank(d), "the wake sound and its echo must still be blanked"
    fast(d, 0.1)
    assert not blank(d)
    assert d.sent_types(fast_request(d)) == ["input_audio_buffer.commit", "response.create"]
    assert FRAME * 150 in d.uploaded(), "the request was not sent as heard"


def test_the_wake_sound_blanks_no_longer_than_it_lasts_when_the_stream_stalls() -> None:
    """The other way round: no microphone frames arrive (a stalled source); the core's clock ends it."""
    d = Driver(cfg(sound_s={"wake": 0.3}, echo_tail_s=0.3))
    d.mic(1.0)
    d.feed(Wake("hey_jarvis", 0.9, d.t))
    assert blank(d)
    d.feed(Tick(), 0.55)
    assert blank(d)
    d.feed(Tick(), 0.1)
    assert not blank(d)
