"""Memory across idle-closed sessions and the rollover before max_session_s (speaker.core.memory),
driven by event scripts in virtual time."""

from __future__ import annotations

from typing import Any

from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.conversation import Phase
from speaker.core.events import PlaybackDrained, SessionReady, Tick, Wake
from speaker.core.memory import MAX_CHARS, Memory
from speaker.listen.events import SpeechEnded, SpeechStarted
from speaker.realtime import events as rt
from tests.core.test_conversation import Driver, cfg

ITEM = "conversation.item.create"


def turn(d: Driver, heard: str, said: str, n: int) -> None:
    """One exchange: the user speaks, the transcript of their words and the spoken reply arrive, the
    reply is heard to its end."""
    d.say(1.0)
    d.server(rt.InputCommitted(f"item_u{n}"))
    d.server(rt.InputTranscript(f"item_u{n}", heard))
    d.reply(rid=f"resp_{n}", item=f"item_a{n}", deltas=3, done=False)
    d.server(rt.TranscriptDone(f"resp_{n}", f"item_a{n}", said))
    d.server(rt.ResponseDone(f"resp_{n}", "completed"))
    token = [a.token for a in d.log if isinstance(a, A.AwaitPlayback)][-1]
    d.sink.played_ms = d.sink.written_ms
    d.feed(PlaybackDrained(token, d.sink.played_ms), 0.01)


def first_conversation(d: Driver) -> None:
    d.wake_and_connect()
    turn(d, "turn on the kitchen light", "The kitchen light is on.", 1)
    d.feed(Tick(), d.cfg.follow_up_s + 0.1)
    d.feed(Tick(), d.cfg.idle_close_s - d.cfg.follow_up_s)  # idle: the session closes
    assert d.core.phase is Phase.IDLE
    assert [a.reason for a in d.log if isinstance(a, A.CloseSession)] == ["idle"]


def second_wake(d: Driver, after_s: float) -> list[dict[str, Any]]:
    """Wake again ``after_s`` after the close, say something once connected; the events sent."""
    d.feed(Tick(), after_s)
    mark = len(d.log)
    d.wake_and_connect()
    d.say(1.0)
    return d.sent(d.log[mark:])


def test_a_session_within_memory_s_starts_with_the_earlier_exchange_before_the_first_response() -> None:
    d = Driver(cfg(memory_s=300, follow_up_s=2, idle_close_s=3))
    first_conversation(d)
    sent = second_wake(d, 120)
    types = [e["type"] for e in sent]
    assert ITEM in types and "response.create" in types
    assert types.index(ITEM) < types.index("response.create")
    item = sent[types.index(ITEM)]["item"]
    assert item["type"] == "message" and item["role"] == "system"
    text = item["content"][0]["text"]
    assert item["content"][0]["type"] == "input_text"
    assert "User: turn on the kitchen light" in text
    assert "Assistant: The kitchen light is on." in text
    assert len(text) <= MAX_CHARS


def test_after_memory_s_or_with_memory_off_a_new_session_starts_empty() -> None:
    late = Driver(cfg(memory_s=300, follow_up_s=2, idle_close_s=3))
    first_conversation(late)
    assert ITEM not in [e["type"] for e in second_wake(late, 301)]
    off = Driver(cfg(memory_s=0, follow_up_s=2, idle_close_s=3))
    first_conversation(off)
    assert ITEM not in [e["type"] for e in second_wake(off, 10)]


def test_the_first_session_ever_is_not_seeded() -> None:
    d = Driver(cfg(memory_s=300))
    d.wake_and_connect()
    d.say(1.0)
    assert ITEM not in d.sent_types()


def test_the_summary_stays_short_and_keeps_the_latest_exchange() -> None:
    memory = Memory(300)
    for n in range(40):
        memory.user(f"question number {n} " + "about the lights " * 10)
        memory.assistant(f"answer number {n} " + "the lights are fine " * 10)
    text = memory.summary()
    assert text is not None and len(text) <= MAX_CHARS
    assert "answer number 39" in text and "question number 0 " not in text


def test_rollover_before_max_session_s_between_turns_and_the_follow_up_reaches_the_new_session() -> None:
    d = Driver(cfg(max_session_s=8, follow_up_s=4, idle_close_s=5, memory_s=0))
    d.wake_and_connect()
    first = d.core.session
    turn(d, "turn on the kitchen light", "The kitchen light is on.", 1)
    assert d.core.session == first  # young: the follow-up stays in the same session
    d.feed(Tick(), 3.0)
    turn(d, "and dim it", "Dimmed to half.", 2)
    opened = next(a for a in d.log if isinstance(a, O.SessionOpened)).session
    assert opened == first
    assert d.now - 100.0 < 8  # still young after two exchanges; the third reply ends past max_session_s
    mark = len(d.log)
    d.mic(0.5)  # past the echo tail
    d.say(1.0)
    d.reply(rid="resp_3", item="item_a3", deltas=3, done=False)
    d.server(rt.TranscriptDone("resp_3", "item_a3", "It is warm in here."))
    d.server(rt.ResponseDone("resp_3", "completed"))
    token = [a.token for a in d.log if isinstance(a, A.AwaitPlayback)][-1]
    d.sink.played_ms = d.sink.written_ms
    out = d.feed(PlaybackDrained(token, d.sink.played_ms), 0.01)
    # the reply was heard to its end; then, in the follow-up window, the old session closes and a new
    # one opens (no wake sound, no closing sound: nothing audible)
    closes = [a for a in out if isinstance(a, A.CloseSession)]
    opens = [a for a in out if isinstance(a, A.OpenSession)]
    assert [c.reason for c in closes] == ["rollover"] and closes[0].session == first
    assert len(opens) == 1 and opens[0].session == first + 1
    assert not any(isinstance(a, (A.PlaySound, A.StopPlayback)) for a in d.log[mark:])
    # the user starts the follow-up while the new session connects: held, then sent to it
    d.mic(0.5)
    d.feed(SpeechStarted(d.t))
    d.mic(1.0)
    spoken_until = d.t
    before_ready = len(d.log)
    assert d.uploaded(d.log[before_ready:]) == b""
    out = d.feed(SessionReady(d.core.session))
    sent = d.sent_types(out)
    assert sent and sent[0] == ITEM  # the summary before anything else
    text = d.sent(out)[0]["item"]["content"][0]["text"]
    assert "and dim it" in text and "Dimmed to half." in text and "It is warm in here." in text
    assert len(d.uploaded(out)) >= 0.9 * 32000  # the speech said while connecting went up
    d.mic(0.6)
    d.feed(SpeechEnded(spoken_until))
    assert d.sent_types()[-2:] == ["input_audio_buffer.commit", "response.create"]
    assert d.core.phase is Phase.THINKING and d.core.session == first + 1


def test_no_rollover_while_young_and_no_speech_after_it_closes_like_the_follow_up() -> None:
    d = Driver(cfg(max_session_s=5, follow_up_s=4, idle_close_s=5))
    d.wake_and_connect()
    turn(d, "what time is it", "Ten past three.", 1)
    assert [a.session for a in d.log if isinstance(a, A.OpenSession)] == [1]
    d.feed(Tick(), 2.0)
    turn(d, "thanks", "You're welcome.", 2)
    assert [a.reason for a in d.log if isinstance(a, A.CloseSession)] == ["rollover"]
    d.feed(SessionReady(d.core.session))
    d.feed(Tick(), 4.1)  # nobody speaks in the follow-up window: the new session closes
    assert d.core.phase is Phase.IDLE
    assert [a.reason for a in d.log if isinstance(a, A.CloseSession)][-1] == "no speech"
    # and the wake word after it still finds the memory (memory_s default 300 s)
    d.feed(Tick(), 5)
    mark = len(d.log)
    d.feed(Wake("hey_jarvis", 0.9, d.t))
    d.feed(SessionReady(d.core.session))
    assert d.sent_types(d.log[mark:])[:1] == [ITEM]
