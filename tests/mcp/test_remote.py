"""Remote MCP servers: the GA session tools, secret redaction, and the approval/event handler.

Every tool dict and client event is checked with the strict openai-types validator; every server
event fed to the handler is checked too, so the fixtures are real GA shapes."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from speaker.config.schema import McpSettings
from speaker.core.approval import McpQuestion
from speaker.mcp.remote import (
    APPROVAL_DENIED_REASON,
    McpEventHandler,
    redact_session,
    session_mcp_tools,
)
from speaker.realtime.events import McpEvent, parse_server_event

validate = pytest.importorskip("realtime_emulator.validate")

TOKEN = "sk-remote-SECRET-4711"
API_KEY = "key-SECRET-0815"


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("REMOTE_MCP_TOKEN", TOKEN)
    key_file = tmp_path / "api-key"
    key_file.write_text(API_KEY + "\n")
    return key_file


def settings(key_file: Path | None = None, **extra: Any) -> McpSettings:
    remote: list[dict[str, Any]] = [
        {"label": "calendar", "url": "https://mcp.example.com/calendar", "description": "The family calendar",
         "authorization": {"env": "REMOTE_MCP_TOKEN"}, "allowed_tools": ["list_events", "add_event"],
         "require_approval": ["add_event"]},
        {"label": "weather", "url": "https://weather.example.com/mcp",
         "headers": {"X-Api-Key": {"file": str(key_file)}} if key_file else {}},
        {"label": "shop", "url": "https://shop.example.com/mcp", "require_approval": "always"},
    ]
    remote += extra.pop("more", [])
    return McpSettings.model_validate({"remote": remote, **extra})


def session_with(tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "realtime", "model": "gpt-realtime-2.1", "tools": tools}


def test_session_tools_have_the_ga_shape(secrets: Path) -> None:
    tools = session_mcp_tools(settings(secrets))
    assert tools == [
        {"type": "mcp", "server_label": "calendar", "server_url": "https://mcp.example.com/calendar",
         "server_description": "The family calendar", "authorization": TOKEN,
         "allowed_tools": ["list_events", "add_event"],
         "require_approval": {"always": {"tool_names": ["add_event"]}, "never": {"tool_names": ["list_events"]}}},
        {"type": "mcp", "server_label": "weather", "server_url": "https://weather.example.com/mcp",
         "headers": {"X-Api-Key": API_KEY}, "require_approval": "never"},
        {"type": "mcp", "server_label": "shop", "server_url": "https://shop.example.com/mcp",
         "require_approval": "always"},
    ]
    validate.validate_session_update(session_with(tools))
    # never both: authorization and an Authorization header
    for tool in tools:
        assert not ("authorization" in tool and any(k.lower() == "authorization" for k in tool.get("headers", {})))


def test_approval_list_without_allowed_tools_only_names_the_listed_ones(secrets: Path) -> None:
    s = McpSettings.model_validate({"remote": [
        {"label": "a", "url": "https://a.example.com/mcp", "require_approval": ["delete_all"]},
        {"label": "b", "url": "https://b.example.com/mcp", "require_approval": []},
    ]})
    tools = session_mcp_tools(s)
    assert tools[0]["require_approval"] == {"always": {"tool_names": ["delete_all"]}}
    assert tools[1]["require_approval"] == "never"
    validate.validate_session_update(session_with(tools))


def test_a_server_whose_secret_is_missing_is_left_out(secrets: Path, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("REMOTE_MCP_TOKEN")
    with caplog.at_level(logging.WARNING):
        tools = session_mcp_tools(settings(secrets))
    assert [t["server_label"] for t in tools] == ["weather", "shop"]
    assert "calendar left out" in caplog.text and "REMOTE_MCP_TOKEN is not set" in caplog.text


def test_redact_session_hides_every_secret_and_leaves_the_original_alone(secrets: Path) -> None:
    tools = session_mcp_tools(settings(secrets))
    event: dict[str, Any] = {"type": "session.update", "session": session_with(tools)}
    redacted = redact_session(event)
    text = json.dumps(redacted)
    assert TOKEN not in text and API_KEY not in text
    calendar, weather, _ = redacted["session"]["tools"]
    assert calendar["authorization"] == "***"
    assert weather["headers"] == {"X-Api-Key": "***"}
    assert event["session"]["tools"][0]["authorization"] == TOKEN  # not modified
    # the redacted copy is still a valid session (so it can be printed by `speaker check`)
    validate.validate_session_update(redact_session(session_with(tools)))


def test_secrets_never_reach_the_logs(secrets: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    s = settings(secrets)
    tools = session_mcp_tools(s)
    handler = McpEventHandler(s)
    for ev in _approval_request("calendar", "add_event", "mcpr_1"):
        handler.handle(ev)
    handler.handle(_item_done({"type": "mcp_list_tools", "id": "mcpl_1", "server_label": "calendar",
                               "tools": [{"name": "list_events", "input_schema": {}}]}))
    logging.getLogger("test").info("session: %s", redact_session(session_with(tools)))
    assert caplog.records
    assert TOKEN not in caplog.text and API_KEY not in caplog.text


# --------------------------------------------------------------------------- events


def _server_event(raw: dict[str, Any]) -> McpEvent:
    """Validate a GA server event and parse it the way the Realtime client does."""
    raw = {"event_id": "evt_1", **raw}
    validate.validate_server_event(raw)
    parsed = parse_server_event(raw)
    assert isinstance(parsed, McpEvent), parsed
    return parsed


def _item_done(item: dict[str, Any]) -> McpEvent:
    return _server_event({"type": "conversation.item.done", "previous_item_id": None, "item": item})


def _approval_request(label: str, tool: str, request_id: str) -> list[McpEvent]:
    item = {"type": "mcp_approval_request", "id": request_id, "server_label": label, "name": tool,
            "arguments": json.dumps({"title": "dentist"})}
    return [
        _server_event({"type": "response.output_item.done", "response_id": "resp_1", "output_index": 0,
                       "item": item}),
        _item_done(item),
    ]


def _answers(handler: McpEventHandler, events: list[McpEvent]) -> list[dict[str, Any] | McpQuestion]:
    return [out for ev in events if (out := handler.handle(ev)) is not None]


NO_VOICE = [
    {"label": "vault", "url": "https://vault.example.com/mcp", "require_approval": "always", "ask": False},
    {"label": "garden", "url": "https://garden.example.com/mcp", "deny": ["flood"]},
]


@pytest.mark.parametrize(("label", "tool", "approve"), [
    ("weather", "forecast", True),         # policy 'never'
    ("calendar", "list_events", True),     # not listed
    ("vault", "open", False),              # needs approval, ask: false
    ("garden", "flood", False),            # deny list
    ("garden", "water", True),             # not on the deny list
])
def test_approval_requests_are_answered_by_policy(secrets: Path, label: str, tool: str, approve: bool) -> None:
    handler = McpEventHandler(settings(secrets, more=NO_VOICE))
    answers = _answers(handler, _approval_request(label, tool, "mcpr_abc"))
    assert len(answers) == 1, "seen twice (output item and conversation item), answered once"
    event = answers[0]
    assert isinstance(event, dict)
    validate.validate_client_event(event)
    item = event["item"]
    expected: dict[str, Any] = {"type": "mcp_approval_response", "id": item["id"],
                                "approval_request_id": "mcpr_abc", "approve": approve}
    if not approve:
        expected["reason"] = APPROVAL_DENIED_REASON
    assert event == {"type": "conversation.item.create", "item": expected}
    assert item["id"].startswith("mcpa_") and len(item["id"]) <= 32 and item["id"] != "mcpr_abc"


@pytest.mark.parametrize(("label", "tool"), [
    ("shop", "buy"),                       # policy 'always'
    ("calendar", "add_event"),             # listed as needing approval
])
def test_tools_that_need_approval_are_asked_by_voice(secrets: Path, label: str, tool: str) -> None:
    handler = McpEventHandler(settings(secrets, more=NO_VOICE))
    answers = _answers(handler, _approval_request(label, tool, "mcpr_abc"))
    assert len(answers) == 1, "seen twice (output item and conversation item), asked once"
    question = answers[0]
    assert isinstance(question, McpQuestion)
    assert (question.request_id, question.server_label, question.tool) == ("mcpr_abc", label, tool)
    assert question.answer_id.startswith("mcpa_") and len(question.answer_id) <= 32


def test_the_deny_list_needs_approval_on_the_wire_and_voice_is_only_where_asked(secrets: Path) -> None:
    s = settings(secrets, more=NO_VOICE)
    tools = {t["server_label"]: t for t in session_mcp_tools(s)}
    assert tools["garden"]["require_approval"] == {"always": {"tool_names": ["flood"]}}
    validate.validate_session_update(session_with(list(tools.values())))
    assert {r.label: McpEventHandler.asks(r) for r in s.remote} == {
        "calendar": True, "weather": False, "shop": True, "vault": False, "garden": False}


def test_unknown_server_is_denied_and_reset_forgets_answers(secrets: Path) -> None:
    handler = McpEventHandler(settings(secrets))
    [event] = _answers(handler, _approval_request("stranger", "x", "mcpr_9"))
    assert isinstance(event, dict)
    assert event["item"]["approve"] is False and "unknown MCP server" in event["item"]["reason"]
    assert _answers(handler, _approval_request("stranger", "x", "mcpr_9")) == []
    handler.reset()
    assert len(_answers(handler, _approval_request("stranger", "x", "mcpr_9"))) == 1


def test_listed_tools_and_failures_are_logged(secrets: Path, caplog: pytest.LogCaptureFixture) -> None:
    handler = McpEventHandler(settings(secrets))
    caplog.set_level(logging.INFO, logger="speaker.mcp.remote")
    listed = {"type": "mcp_list_tools", "id": "mcpl_1", "server_label": "weather",
              "tools": [{"name": "forecast", "input_schema": {"type": "object"}},
                        {"name": "alerts", "input_schema": {"type": "object"}}]}
    assert handler.handle(_server_event({"type": "mcp_list_tools.completed", "item_id": "mcpl_1"})) is None
    assert handler.handle(_item_done(listed)) is None
    assert handler.tools_listed == {"weather": ["forecast", "alerts"]}
    assert "weather: 2 tools listed by the Realtime service: forecast, alerts" in caplog.text

    # a server the cloud cannot list: failed event first (no label), then the item names it
    caplog.clear()
    assert handler.handle(_server_event({"type": "mcp_list_tools.failed", "item_id": "mcpl_2"})) is None
    handler.handle(_item_done({"type": "mcp_list_tools", "id": "mcpl_2", "server_label": "shop", "tools": []}))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "shop" in warnings[0].getMessage() and "failed to list" in warnings[0].getMessage()
    assert "shop" not in handler.tools_listed

    # a failed call, with the error from the item
    caplog.clear()
    handler.handle(_server_event({"type": "response.mcp_call.failed", "item_id": "mcp_1", "output_index": 0}))
    failed_call = {"type": "mcp_call", "id": "mcp_1", "server_label": "weather", "name": "forecast",
                   "arguments": "{}", "error": {"type": "http_error", "code": 502, "message": "Bad Gateway"}}
    handler.handle(_server_event({"type": "response.output_item.done", "response_id": "resp_1",
                                  "output_index": 0, "item": failed_call}))
    assert "remote MCP call weather.forecast failed: Bad Gateway (code 502)" in caplog.text
    ok_call = {**failed_call, "error": None, "output": "sunny"}
    handler.handle(_server_event({"type": "response.output_item.done", "response_id": "resp_1",
                                  "output_index": 0, "item": ok_call}))
    assert "remote MCP call weather.forecast ok: sunny" in caplog.text
