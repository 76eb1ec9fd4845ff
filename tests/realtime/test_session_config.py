"""The session.update the daemon sends: GA shape only, validated by the emulator's strict validator."""

from __future__ import annotations

from typing import Any

import pytest

from realtime_emulator.validate import ValidationFailure, validate_client_event
from speaker.config.schema import (
    McpRemoteServer,
    RealtimeSettings,
    SemanticVadSettings,
    ServerVadSettings,
    TranscriptionSettings,
)
from speaker.config.secret import Secret
from speaker.mcp.remote import mcp_tool, redact_session
from speaker.realtime.session_config import build_session, is_reasoning_model, session_update_event
from speaker.tools.base import ToolSpec

TIMER = ToolSpec("set_timer", "Start a kitchen timer.",
                 {"type": "object", "properties": {"seconds": {"type": "integer", "minimum": 1}},
                  "required": ["seconds"]})
LIGHTS = ToolSpec("lights_on", "Turn the lights on.")
BETA_KEYS = {"voice", "modalities", "temperature", "input_audio_format", "output_audio_format",
             "input_audio_transcription", "turn_detection", "input_audio_noise_reduction",
             "max_response_output_tokens"}


def build(settings: RealtimeSettings | None = None, **kw: Any) -> dict[str, Any]:
    session = build_session(settings or RealtimeSettings(), tools=kw.pop("tools", [TIMER]),
                            mcp_tools=kw.pop("mcp_tools", []), **kw)
    validate_client_event(session_update_event(session))  # raises with the exact path on any drift
    return session


def home_server(monkeypatch: pytest.MonkeyPatch, **kw: Any) -> McpRemoteServer:
    monkeypatch.setenv("HOME_MCP_TOKEN", "tok-secret-123")
    return McpRemoteServer(label="home", url="https://mcp.example.com/mcp",
                           headers={"X-Api-Key": Secret(env="HOME_MCP_TOKEN")}, **kw)


def test_default_session_is_ga_and_local_turn_detection_is_null() -> None:
    session = build()
    assert session["type"] == "realtime"
    assert session["model"] == "gpt-realtime-2.1"
    assert session["output_modalities"] == ["audio"]
    assert not BETA_KEYS & session.keys()
    audio_in = session["audio"]["input"]
    assert audio_in["format"] == {"type": "audio/pcm", "rate": 24000}
    assert audio_in["noise_reduction"] == {"type": "far_field"}
    assert audio_in["turn_detection"] is None  # our VAD ends the turn: commit + response.create
    assert "transcription" not in audio_in
    assert session["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin",
                                          "speed": 1.0}
    assert session["tool_choice"] == "auto" and session["max_output_tokens"] == 1024
    assert session["truncation"] == {"type": "retention_ratio", "retention_ratio": 0.8,
                                     "token_limits": {"post_instructions": 8000}}
    assert session["reasoning"] == {"effort": "low"}
    assert session["tools"] == [TIMER.to_realtime()]


def test_server_vad_sets_every_value_and_never_an_idle_timeout() -> None:
    settings = RealtimeSettings(turn_detection=ServerVadSettings(threshold=0.7, prefix_padding_ms=250,
                                                                 silence_duration_ms=650))
    td = build(settings)["audio"]["input"]["turn_detection"]
    assert td == {"type": "server_vad", "threshold": 0.7, "prefix_padding_ms": 250, "silence_duration_ms": 650,
                  "create_response": True, "interrupt_response": True}
    assert "idle_timeout_ms" not in td  # it would make the speaker talk into a silent room


def test_semantic_vad_carries_eagerness() -> None:
    settings = RealtimeSettings(turn_detection=SemanticVadSettings(eagerness="low"))
    td = build(settings)["audio"]["input"]["turn_detection"]
    assert td == {"type": "semantic_vad", "eagerness": "low", "create_response": True, "interrupt_response": True}


def test_wake_word_voice_and_instructions_override() -> None:
    session = build(voice="cedar", extra_instructions="  You are in the kitchen.  ")
    assert session["audio"]["output"]["voice"] == "cedar"
    assert session["instructions"].startswith(RealtimeSettings().instructions)
    assert session["instructions"].endswith("\n\nYou are in the kitchen.")


def test_optional_parts_switched_off() -> None:
    settings = RealtimeSettings(noise_reduction=None, retention_ratio=None, reasoning_effort=None,
                                max_output_tokens="inf", output_modalities=["text"], tool_choice="none")
    session = build(settings, tools=[])
    assert "noise_reduction" not in session["audio"]["input"]
    assert "truncation" not in session and "reasoning" not in session
    assert session["max_output_tokens"] == "inf" and session["output_modalities"] == ["text"]
    assert session["tools"] == [] and session["tool_choice"] == "none"


def test_retention_ratio_without_token_limit() -> None:
    session = build(RealtimeSettings(retention_ratio=0.5, post_instructions_token_limit=None))
    assert session["truncation"] == {"type": "retention_ratio", "retention_ratio": 0.5}


def test_transcription_when_configured() -> None:
    settings = RealtimeSettings(transcription=TranscriptionSettings(model="gpt-transcribe", language="de",
                                                                    prompt="Wohnzimmer, Küche"))
    assert build(settings)["audio"]["input"]["transcription"] == {
        "model": "gpt-transcribe", "language": "de", "prompt": "Wohnzimmer, Küche"}


@pytest.mark.parametrize(("model", "reasoning"), [("gpt-realtime-2.1", True), ("gpt-realtime-2.1-mini", True),
                                                  ("gpt-realtime-2", True), ("gpt-realtime-1.5", False),
                                                  ("gpt-realtime", False), ("my-azure-deployment", False)])
def test_reasoning_effort_only_for_reasoning_models(model: str, reasoning: bool) -> None:
    assert is_reasoning_model(model) is reasoning
    assert ("reasoning" in build(RealtimeSettings(model=model))) is reasoning


def test_function_and_remote_mcp_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    server = home_server(monkeypatch, description="Lights and heating.", allowed_tools=["lights_on", "unlock"],
                         require_approval=["unlock"])
    session = build(tools=[TIMER, LIGHTS], mcp_tools=[mcp_tool(server)])
    function_tools = [t for t in session["tools"] if t["type"] == "function"]
    assert [t["name"] for t in function_tools] == ["set_timer", "lights_on"]
    assert "function" not in function_tools[0]  # GA function tools are flat
    mcp = session["tools"][-1]
    assert mcp == {"type": "mcp", "server_label": "home", "server_url": "https://mcp.example.com/mcp",
                   "server_description": "Lights and heating.", "headers": {"X-Api-Key": "tok-secret-123"},
                   "allowed_tools": ["lights_on", "unlock"],
                   "require_approval": {"always": {"tool_names": ["unlock"]},
                                        "never": {"tool_names": ["lights_on"]}}}


def test_mcp_authorization_and_plain_approval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME_MCP_TOKEN", "oauth-token")
    server = McpRemoteServer(label="cal", url="https://mcp.example.com/cal",
                             authorization=Secret(env="HOME_MCP_TOKEN"), require_approval="always")
    tool = build(mcp_tools=[mcp_tool(server)])["tools"][-1]
    assert tool["authorization"] == "oauth-token" and tool["require_approval"] == "always"
    assert "headers" not in tool


def test_redacted_copy_hides_mcp_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    session = build(mcp_tools=[mcp_tool(home_server(monkeypatch))])
    shown = redact_session(session)
    assert "tok-secret-123" not in repr(shown)
    assert shown["tools"][-1]["headers"] == {"X-Api-Key": "***"}
    assert session["tools"][-1]["headers"] == {"X-Api-Key": "tok-secret-123"}  # the original is untouched


def test_duplicate_names_are_refused_before_the_server_sees_them(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="set_timer"):
        build_session(RealtimeSettings(), tools=[TIMER, TIMER], mcp_tools=[])
    tool = mcp_tool(home_server(monkeypatch))
    with pytest.raises(ValueError, match="home"):
        build_session(RealtimeSettings(), tools=[], mcp_tools=[tool, tool])


def test_the_validator_would_catch_a_beta_shape() -> None:
    """The oracle these tests lean on does reject what the server rejects (so the tests above can fail)."""
    session = build_session(RealtimeSettings(), tools=[], mcp_tools=[])
    with pytest.raises(ValidationFailure, match="voice"):
        validate_client_event(session_update_event({**session, "voice": "marin"}))
    with pytest.raises(ValidationFailure):
        validate_client_event(session_update_event({**session, "audio": {"input": {"format": {
            "type": "audio/pcm", "rate": 16000}}}}))


def test_session_update_event_shape() -> None:
    assert session_update_event({"type": "realtime"}) == {"type": "session.update", "session": {"type": "realtime"}}
    assert session_update_event({"type": "realtime"}, event_id="cfg-1")["event_id"] == "cfg-1"
