"""Resume in the same wake (speaker.core.resume), driven by event scripts in virtual time: a session lost
before or during the answer is replaced once, with the user's turn again; never twice, never after a
fatal refusal; a follow-up that meets the session's end goes to a fresh session with its audio."""

from __future__ import annotations

from typing import Any

from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.conversation import Phase
from speaker.core.events import PlaybackDrained, SessionFailed, SessionReady, Tick, ToolFinished, Wake
from speaker.errors import RealtimeError
from speaker.listen.events import SpeechEnded, SpeechStarted
from speaker.realtime import events as rt
from tests.core.test_conversation import FRAME, Driver, cfg

DROP = RealtimeError("Realtime connection closed without a close frame", code="1006", retryable=True)
EXPIRED = RealtimeError("Your session hit the maximum duration of 60 minutes.", code="session_expired")
FATAL = RealtimeError("Incorrect API key provided", code="invalid_api_key")


def opens(out: list[Any]) -> list[A.OpenSession]:
    return [a for a in out if isinstance(a, A.OpenSession)]


def of(out: list[Any], kind: type) -> list[Any]:
    return [s for s in out if isinstance(s, kind)]


def asked_and_answered(d: Driver, seconds: float = 1.0) -> bytes:
    """Wake word, connect, a request; returns everything uploaded to the session for it."""
    d.wake_and_connect()
    d.say(seconds)
    assert d.sent_types()[-2:] == ["input_audio_buffer.commit", "response.create"]
    return d.uploaded()


def test_a_drop_mid_answer_is_resumed_once_with_the_same_turn_and_answered_in_full() -> None:
    d = Driver()
    turn = asked_and_answered(d)
    first = d.core.session
    d.reply(deltas=3, done=False)  # 0.3 s of the answer arrived, then the connection drops
    out = d.feed(SessionFailed(first, DROP))
    [fresh] = opens(out)
    assert fresh.session == first + 1 and fresh.wake_model == "hey_jarvis"
    assert fresh.instructions is not None and "0.3 s of your spoken answer" in fresh.instructions
    assert not any(isinstance(a, (A.PlaySound, A.StopPlayback)) for a in out)  # no error; what came still plays
    assert of(out, O.Resumed) == [O.Resumed("connection lost (1006)", fresh.session, True)]
    [lost] = of(out, O.SessionEnded)
    assert lost.session == first and lost.turns == 1 and lost.reason == "connection lost (1006)"
    assert d.core.state == "listening"  # connecting again; the user says nothing more

    out = d.feed(SessionReady(fresh.session))
    assert d.uploaded(out) == turn  # the same turn, all of it, once
    assert d.sent_types(out) == ["input_audio_buffer.commit", "response.create"]
    out = d.reply("resp_2", "item_2", deltas=5)
    assert len(of(out, A.Play)) == 5 and any(isinstance(a, A.AwaitPlayback) for a in out)
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    d.sink.play(10_000)
    d.feed(PlaybackDrained(token, d.sink.played_ms))
    assert d.core.phase is Phase.FOLLOW_UP  # a complete answer, and the conversation goes on
    assert sum(len(opens([a])) for a in d.log) == 2


def test_exactly_one_retry_a_second_loss_in_the_same_turn_ends_with_the_error_sound() -> None:
    d = Driver()
    asked_and_answered(d)
    d.reply(deltas=2, done=False)
    d.feed(SessionFailed(d.core.session, DROP))
    d.feed(SessionReady(d.core.session))
    d.reply("resp_2", "item_2", deltas=1, done=False)
    out = d.feed(SessionFailed(d.core.session, DROP))
    assert opens(out) == [] and A.PlaySound("error") in out
    assert d.core.phase is Phase.IDLE
    assert len(opens(d.log)) == 2
    # the next interaction works again and may be resumed again (a new turn)
    d.mic(1.0)
    out = d.feed(Wake("hey_jarvis", 0.9, d.t), 1.0)
    assert len(opens(out)) == 1


def test_a_fresh_session_that_cannot_open_ends_with_the_error_sound() -> None:
    d = Driver()
    asked_and_answered(d)
    d.feed(SessionFailed(d.core.session, DROP))  # thinking: nothing of the answer yet
    out = d.feed(SessionFailed(d.core.session, RealtimeError("refused", code="connection_refused", retryable=True)))
    assert A.PlaySound("error") in out and d.core.phase is Phase.IDLE and opens(out) == []


def test_no_retry_after_a_fatal_error() -> None:
    d = Driver()
    asked_and_answered(d)
    d.reply(deltas=2, done=False)
    out = d.feed(SessionFailed(d.core.session, FATAL))
    assert opens(out) == [] and d.core.state == "error"
    assert of(out, O.Unavailable) == [O.Unavailable("Incorrect API key provided", "invalid_api_key")]
    assert of(out, O.Resumed) == []


def test_unavailable_until_a_session_opens_again_after_the_cool_off() -> None:
    d = Driver(cfg(fatal_retry_s=600))
    d.mic(0.5)
    d.feed(Wake("hey_jarvis", 0.9, d.t))
    d.feed(SessionFailed(d.core.session, FATAL))
    assert len(of(d.log, O.Unavailable)) == 1
    out = d.feed(Wake("hey_jarvis", 0.9, d.t), 601.0)
    assert len(opens(out)) == 1
    out = d.feed(SessionReady(d.core.session))
    assert of(out, O.Available) == [O.Available()]
    d.feed(Tick(), 10.0)  # nobody spoke: closed; a later session reports nothing more
    d.feed(Wake("hey_jarvis", 0.9, d.t), 1.0)
    out = d.feed(SessionReady(d.core.session))
    assert of(out, O.Available) == []


def test_a_reply_stall_is_retried_once_in_a_fresh_session() -> None:
    d = Driver(cfg(response_timeout_s=5))
    turn = asked_and_answered(d)
    first = d.core.session
    out = d.feed(Tick(), 5.1)
    assert [a.session for a in of(out, A.CloseSession)] == [first]
    [fresh] = opens(out)
    assert "none of your answer" in (fresh.instructions or "")
    out = d.feed(SessionReady(fresh.session))
    assert d.uploaded(out) == turn
    out = d.reply("resp_2", "item_2")
    assert of(out, A.Play) and A.PlaySound("error") not in d.log


def test_the_follow_up_that_meets_the_session_expiry_reaches_the_fresh_session() -> None:
    """The emulator's Fault.expire_in_follow_up: the first append of the follow-up ends the session."""
    d = Driver(cfg(follow_up_s=5, idle_close_s=8))
    asked_and_answered(d)
    out = d.reply()
    d.server(rt.TranscriptDone("resp_1", "item_1", "The kitchen light is on."))
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    d.sink.play(10_000)
    d.feed(PlaybackDrained(token, d.sink.played_ms))
    assert d.core.phase is Phase.FOLLOW_UP
    mark = len(d.log)
    d.mic(0.5)
    d.feed(SpeechStarted(d.t))
    d.mic(0.8)  # the follow-up streams to the old session...
    old = d.uploaded(d.log[mark:])
    assert old
    out = d.feed(SessionFailed(d.core.session, EXPIRED))  # ...which expires on its first append
    [fresh] = opens(out)
    assert O.Expired() in out and A.PlaySound("error") not in out
    assert "you: The kitchen light is on." in (fresh.instructions or "")
    d.mic(0.7)  # the user goes on speaking while the fresh session connects
    end = d.t
    d.mic(0.6)
    d.feed(SpeechEnded(end))
    assert d.sent_types(d.log[mark:]) == []  # nothing committed to a dead session
    out = d.feed(SessionReady(fresh.session))
    sent = d.uploaded(out)
    assert sent.startswith(old)  # the follow-up from its onset...
    assert len(sent) >= len(old) + len(FRAME) * 70  # ...and what came after, to the end of speech
    # the memory of the exchange first (conversation.memory_s), then the turn
    assert d.sent_types(out) == ["conversation.item.create", "input_audio_buffer.commit", "response.create"]
    assert d.core.state == "thinking"


def test_a_session_lost_in_a_quiet_follow_up_window_opens_a_fresh_one_only_when_the_user_speaks() -> None:
    d = Driver(cfg(follow_up_s=5, idle_close_s=8))
    asked_and_answered(d)
    out = d.reply()
    d.server(rt.TranscriptDone("resp_1", "item_1", "It is ten past three."))
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    d.sink.play(10_000)
    d.feed(PlaybackDrained(token, d.sink.played_ms))
    out = d.feed(SessionFailed(d.core.session, EXPIRED), 1.0)
    assert opens(out) == [] and A.PlaySound("error") not in out and of(out, O.SessionEnded)
    assert d.core.phase is Phase.FOLLOW_UP  # the window goes on, without a session (nothing is billed)
    d.mic(1.0)
    out = d.feed(SpeechStarted(d.t))
    [fresh] = opens(out)
    assert "It is ten past three." in (fresh.instructions or "") and "next request" in (fresh.instructions or "")
    d.mic(1.0)
    end = d.t
    d.mic(0.6)
    d.feed(SpeechEnded(end))
    out = d.feed(SessionReady(fresh.session))
    assert len(d.uploaded(out)) >= len(FRAME) * 100  # the whole follow-up
    # the memory of the exchange first (conversation.memory_s), then the turn
    assert d.sent_types(out) == ["conversation.item.create", "input_audio_buffer.commit", "response.create"]


def test_a_quiet_follow_up_window_whose_session_was_lost_just_ends() -> None:
    d = Driver(cfg(follow_up_s=5, idle_close_s=5))
    asked_and_answered(d)
    out = d.reply()
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    d.sink.play(10_000)
    d.feed(PlaybackDrained(token, d.sink.played_ms))
    d.feed(SessionFailed(d.core.session, DROP))
    d.mic(6.0)
    assert d.core.phase is Phase.IDLE and len(opens(d.log)) == 1
    assert not of(d.log[-600:], A.CloseSession)  # nothing to close


def test_tools_already_run_for_the_turn_are_named_in_the_fresh_session() -> None:
    d = Driver()
    asked_and_answered(d)
    d.server(rt.ResponseCreated("resp_1"))
    call = rt.FunctionCall("resp_1", "item_f", "call_1", "zigbee_light_set", '{"state": "ON"}')
    d.server(rt.ResponseDone("resp_1", "completed", function_calls=(call,)))
    d.feed(ToolFinished("call_1", '{"ok": true}', True), 0.2)
    out = d.feed(SessionFailed(d.core.session, DROP))
    [fresh] = opens(out)
    assert 'zigbee_light_set({"state": "ON"}) -> {"ok": true}' in (fresh.instructions or "")
