"""Spoken confirmation (``speaker.core.confirm``): a ``confirm: true`` tool runs only after the user's own
transcribed yes; no, silence, an unclear answer or the model's word alone run nothing (virtual time)."""

from __future__ import annotations

import json

import pytest

from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.confirm import verdict
from speaker.core.conversation import CoreConfig, Phase
from speaker.core.events import PlaybackDrained, Tick, ToolFinished
from speaker.realtime import events as rt
from tests.core.test_conversation import SOUNDS, Driver

LOCK = rt.FunctionCall("resp_1", "item_f", "call_1", "ha_lock_set", '{"device": "front_door", "command": "UNLOCK"}')


def driver(**options: object) -> Driver:
    return Driver(CoreConfig(sound_s=SOUNDS, confirm_tools={"ha_lock_set": None}, **options))  # type: ignore[arg-type]


def runs(d: Driver) -> list[A.RunTool]:
    return [a for a in d.log if isinstance(a, A.RunTool)]


def asked(d: Driver) -> Driver:
    """The user asked to unlock; the model called the lock tool; the question was asked and heard."""
    d.wake_and_connect()
    assert any(isinstance(a, A.OpenSession) and a.transcribe for a in d.log), "no transcription requested"
    d.say(1.0)
    d.server(rt.ResponseCreated("resp_1"))
    d.server(LOCK)
    out = d.server(rt.ResponseDone("resp_1", "completed", function_calls=(LOCK,)))
    assert runs(d) == [], "the tool ran before anyone said yes"
    question = d.sent(out)[-1]
    assert question["type"] == "response.create" and question["response"]["tool_choice"] == "none"
    assert "yes/no question" in question["response"]["instructions"]
    out = d.reply("resp_2", "item_q")  # "Unlock the front door?"
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    d.sink.play(1000)
    d.feed(PlaybackDrained(token))
    assert d.core.phase is Phase.FOLLOW_UP  # listening without a wake word
    return d


def answer(d: Driver, text: str) -> list[A.Action]:
    d.mic(0.5)  # the question's echo tail
    out = d.say(0.6)
    assert d.sent_types(out) == ["input_audio_buffer.commit"], "a response was asked before the answer was read"
    out += d.server(rt.InputCommitted("item_answer"))
    out += d.server(rt.InputTranscript("item_answer", text))
    return out


def not_confirmed_output(d: Driver) -> dict[str, object]:
    outputs = [e for e in d.sent() if e["type"] == "conversation.item.create"]
    assert len(outputs) == 1 and outputs[0]["item"]["call_id"] == "call_1"
    result: dict[str, object] = json.loads(outputs[0]["item"]["output"])
    return result


def test_yes_runs_the_tool_once_and_the_model_hears_its_output() -> None:
    d = asked(driver())
    out = answer(d, "Yes, please.")
    assert runs(d) == [A.RunTool("call_1", "ha_lock_set", LOCK.arguments)]
    assert d.sent_types(out)[-1] == "input_audio_buffer.commit"  # still no response: the tool runs first
    out = d.feed(ToolFinished("call_1", '{"ok": true}', True))
    assert d.sent_types(out) == ["conversation.item.create", "response.create"]
    d.server(rt.InputTranscript("item_answer", "Yes, please."))  # a repeat runs nothing more
    assert len(runs(d)) == 1


@pytest.mark.parametrize("text", ["No.", "no, wait", "yes, but unlock the back door instead", "banana", ""])
def test_no_or_an_unclear_answer_runs_nothing_and_tells_the_model(text: str) -> None:
    d = asked(driver())
    out = answer(d, text)
    assert runs(d) == []
    assert d.sent_types(out)[-2:] == ["conversation.item.create", "response.create"]
    assert not_confirmed_output(d)["ok"] is False
    assert any(isinstance(o, O.ToolDone) and not o.ok for o in out)


def test_silence_after_the_question_is_a_no() -> None:
    d = asked(driver(follow_up_s=8, idle_close_s=8))
    d.mic(5.0)
    assert d.sent_types().count("conversation.item.create") == 0
    d.feed(Tick(), 1.1)  # the answer window (confirm_listen_s = 6) is over
    assert runs(d) == []
    assert "silence" in str(not_confirmed_output(d)["error"])


def test_an_answer_that_is_never_transcribed_is_a_no() -> None:
    d = asked(driver())
    d.mic(0.5)
    d.say(0.6)
    d.server(rt.InputCommitted("item_answer"))
    d.feed(Tick(), 3.0)
    assert runs(d) == []
    d.feed(Tick(), 3.1)
    assert runs(d) == [] and not_confirmed_output(d)["ok"] is False
    assert d.sent_types()[-1] == "response.create"


def test_a_late_transcript_of_the_request_itself_does_not_count_as_the_answer() -> None:
    d = asked(driver())
    d.mic(0.5)
    d.say(0.6)
    d.server(rt.InputCommitted("item_answer"))
    d.server(rt.InputTranscript("item_request", "yes"))  # the request's transcript, arriving late
    assert runs(d) == []
    d.server(rt.InputTranscript("item_answer", "nein"))
    assert runs(d) == []


def test_the_conversation_ending_before_the_answer_runs_nothing() -> None:
    d = asked(driver(follow_up_s=3, idle_close_s=3, confirm_listen_s=6))
    d.feed(Tick(), 7)
    assert d.core.phase is Phase.IDLE
    d.server(rt.InputTranscript("item_answer", "yes"))
    assert runs(d) == []


def test_a_tool_without_confirm_runs_at_once() -> None:
    d = driver()
    d.wake_and_connect()
    d.say(1.0)
    call = rt.FunctionCall("resp_1", "item_f", "call_2", "ha_light_set", "{}")
    d.server(rt.ResponseCreated("resp_1"))
    d.server(call)
    assert runs(d) == [A.RunTool("call_2", "ha_light_set", "{}")]


@pytest.mark.parametrize(("text", "language", "yes"), [
    ("Yes.", "en", True), ("yeah go ahead", "en", True), ("Okay, do it!", "en", True),
    ("no", "en", False), ("not now", "en", False), ("yes no", "en", False), ("the kitchen light", "en", False),
    ("Ja, bitte.", "de", True), ("Genau, mach das", "de", True), ("Nein danke", "de", False),
    ("ja aber nicht jetzt", "de", False), ("yes", "de", False), ("ja", "en", False), (None, "en", False),
])
def test_yes_words_are_the_configured_languages(text: str | None, language: str, yes: bool) -> None:
    assert verdict(text, language) is yes
