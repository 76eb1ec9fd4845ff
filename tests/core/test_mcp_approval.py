"""Remote MCP approvals by voice (``speaker.core.approval`` through ``confirm``): a tool the YAML policy
leaves to the user is approved only by the user's own transcribed yes; no, silence or an unclear answer
denies it; tools the policy approves (or denies) are answered at once, without a question (virtual time).

The server events are real GA shapes parsed by the Realtime decoder; the approval handler is the real
``speaker.mcp.remote.McpEventHandler``; every client event the core sends is checked with the strict
openai-types validator."""

from __future__ import annotations

from typing import Any

import pytest

from speaker.config.schema import McpSettings
from speaker.core import actions as A
from speaker.core.conversation import Conversation, CoreConfig, Phase
from speaker.core.events import PlaybackDrained, Tick
from speaker.mcp.remote import McpEventHandler
from speaker.realtime import events as rt
from tests.core.test_conversation import SOUNDS, Driver

validate = pytest.importorskip("realtime_emulator.validate")

MCP = McpSettings.model_validate({"remote": [
    {"label": "shop", "url": "https://shop.example.com/mcp", "require_approval": ["buy"]},
    {"label": "vault", "url": "https://vault.example.com/mcp", "require_approval": "always", "ask": False},
]})


def driver(**options: Any) -> Driver:
    cfg = CoreConfig(sound_s=SOUNDS, mcp_asks=True, **options)
    d = Driver(cfg)
    d.core = Conversation(cfg, mcp=McpEventHandler(MCP))
    return d


def request(label: str, tool: str, request_id: str = "mcpr_1") -> list[rt.RealtimeEvent]:
    """The approval request as the service sends it: as an output item, then as a conversation item."""
    item = {"type": "mcp_approval_request", "id": request_id, "server_label": label, "name": tool,
            "arguments": '{"item": "pizza"}'}
    raw: list[dict[str, Any]] = [
        {"type": "response.output_item.done", "event_id": "e1", "response_id": "resp_1", "output_index": 0,
         "item": item},
        {"type": "conversation.item.done", "event_id": "e2", "previous_item_id": None, "item": item},
    ]
    for event in raw:
        validate.validate_server_event(event)
    return [rt.parse_server_event(event) for event in raw]


def approvals(d: Driver) -> list[dict[str, Any]]:
    found = [e["item"] for e in d.sent() if e["type"] == "conversation.item.create"
             and e["item"]["type"] == "mcp_approval_response"]
    for item in found:
        validate.validate_client_event({"type": "conversation.item.create", "item": item})
    return found


def requested(d: Driver, label: str, tool: str) -> list[A.Action]:
    """The user asked for something; the model's response ends with the service's approval request."""
    d.wake_and_connect()
    assert any(isinstance(a, A.OpenSession) and a.transcribe for a in d.log), "no transcription requested"
    d.say(1.0)
    d.server(rt.ResponseCreated("resp_1"))
    out: list[A.Action] = []
    for event in request(label, tool):
        out += d.server(event)
    out += d.server(rt.ResponseDone("resp_1", "completed"))
    return out


def asked(d: Driver) -> Driver:
    out = requested(d, "shop", "buy")
    assert approvals(d) == [], "answered before anyone said yes"
    question = d.sent(out)[-1]
    assert question["type"] == "response.create" and question["response"]["tool_choice"] == "none"
    assert '"shop"' in question["response"]["instructions"] and '"buy"' in question["response"]["instructions"]
    out = d.reply("resp_2", "item_q")  # "Shall I order the pizza?"
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    d.sink.play(1000)
    d.feed(PlaybackDrained(token))
    assert d.core.phase is Phase.FOLLOW_UP  # listening without a wake word
    return d


def answer(d: Driver, text: str) -> list[A.Action]:
    d.mic(0.5)
    out = d.say(0.6)
    assert d.sent_types(out) == ["input_audio_buffer.commit"], "a response was asked before the answer was read"
    out += d.server(rt.InputCommitted("item_answer"))
    out += d.server(rt.InputTranscript("item_answer", text))
    return out


def test_a_spoken_yes_approves_once_and_the_model_carries_on() -> None:
    d = asked(driver())
    out = answer(d, "Yes, go ahead.")
    assert d.sent_types(out)[-2:] == ["conversation.item.create", "response.create"]
    [item] = approvals(d)
    assert item["approval_request_id"] == "mcpr_1" and item["approve"] is True and "reason" not in item
    d.server(rt.InputTranscript("item_answer", "Yes, go ahead."))  # a repeat answers nothing more
    for event in request("shop", "buy"):  # nor does the request seen again
        d.server(event)
    assert len(approvals(d)) == 1


@pytest.mark.parametrize("text", ["No.", "no, wait", "yes, but a salad instead", "banana", ""])
def test_no_or_an_unclear_answer_denies_with_a_reason(text: str) -> None:
    d = asked(driver())
    out = answer(d, text)
    assert d.sent_types(out)[-2:] == ["conversation.item.create", "response.create"]
    [item] = approvals(d)
    assert item["approve"] is False and "did not approve" in item["reason"]


def test_silence_after_the_question_denies() -> None:
    d = asked(driver(follow_up_s=8, idle_close_s=8))
    d.mic(5.0)
    assert approvals(d) == []
    d.feed(Tick(), 1.1)  # the answer window (confirm_listen_s = 6) is over
    [item] = approvals(d)
    assert item["approve"] is False and "silence" in item["reason"]


@pytest.mark.parametrize(("label", "tool", "approve"), [("shop", "browse", True), ("vault", "open", False)])
def test_the_policy_answers_at_once_without_a_question(label: str, tool: str, approve: bool) -> None:
    d = driver()
    requested(d, label, tool)
    [item] = approvals(d)
    assert item["approve"] is approve
    creates = [e for e in d.sent() if e["type"] == "response.create"]
    assert all("tool_choice" not in (e.get("response") or {}) for e in creates), "a question was asked"


@pytest.mark.parametrize("audio", [False, True])
def test_a_request_after_its_response_ended_is_asked_too(audio: bool) -> None:
    d = driver()
    d.wake_and_connect()
    d.say(1.0)
    d.reply("resp_1", "item_a", deltas=5 if audio else 0)  # "Let me order that." (or nothing)
    for event in request("shop", "buy"):
        out = d.server(event)
    question = d.sent()[-1]
    assert question["type"] == "response.create" and question["response"]["tool_choice"] == "none"
    out = d.reply("resp_2", "item_q")
    d.sink.play(5000)
    for token in [a.token for a in d.log if isinstance(a, A.AwaitPlayback)]:
        d.feed(PlaybackDrained(token))
    assert d.core.phase is Phase.FOLLOW_UP
    out = answer(d, "yes")
    assert d.sent_types(out)[-2:] == ["conversation.item.create", "response.create"]
    assert [i["approve"] for i in approvals(d)] == [True]
