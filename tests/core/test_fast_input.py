"""Input fed faster than real time (files, the soak bench): the core's clock and the stream's time part
ways, and what is about the audio must be judged in stream time."""

from __future__ import annotations

from speaker.core import actions as A
from speaker.core.conversation import Phase
from speaker.core.events import MicFrame, PlaybackDrained, SessionReady, Wake
from speaker.listen.events import SpeechEnded, SpeechStarted
from tests.core.test_conversation import FRAME, Driver, cfg


def fast(d: Driver, seconds: float) -> None:
    """``seconds`` of audio in no time on the core's clock."""
    for _ in range(round(seconds * 100)):
        d.t += 0.01
        d.feed(MicFrame(FRAME, d.t), 0.0)


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
    d.feed(SpeechStarted(d.t))
    fast(d, 1.5)
    end = d.t
    fast(d, 0.6)
    out = d.feed(SpeechEnded(end))
    assert d.sent_types(out) == ["input_audio_buffer.commit", "response.create"]


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
