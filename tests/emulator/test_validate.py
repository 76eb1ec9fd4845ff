"""The strict oracle: the reference's valid GA events pass, the mistakes a client really makes do not,
and the messages point at the field."""

from __future__ import annotations

from typing import Any

import pytest

from realtime_emulator.validate import (
    SERVER_UNDECLARED_ALLOWED,
    ValidationFailure,
    client_event_types,
    server_event_types,
    validate_client_event,
    validate_server_event,
    validate_session_update,
)

FULL_SESSION: dict[str, Any] = {  # realtime-protocol.md §2.1
    "type": "realtime",
    "model": "gpt-realtime-2.1",
    "instructions": "You are a kitchen smart speaker. Answer in one or two short sentences.",
    "output_modalities": ["audio"],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "noise_reduction": {"type": "far_field"},
            "transcription": {"model": "gpt-transcribe", "language": "en"},
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                               "silence_duration_ms": 500, "idle_timeout_ms": None, "create_response": True,
                               "interrupt_response": True},
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin", "speed": 1.0},
    },
    "tools": [
        {"type": "function", "name": "set_timer", "description": "Start a kitchen timer.",
         "parameters": {"type": "object", "properties": {"seconds": {"type": "integer", "minimum": 1}},
                        "required": ["seconds"]}},
        {"type": "mcp", "server_label": "home", "server_url": "https://mcp.example.lan/mcp",
         "server_description": "Home automation: lights, thermostat.",
         "headers": {"Authorization": "Bearer <token>"}, "allowed_tools": ["lights_on", "lights_off"],
         "require_approval": "never"},
    ],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "truncation": {"type": "retention_ratio", "retention_ratio": 0.8, "token_limits": {"post_instructions": 8000}},
    "tracing": None,
}

VALID_CLIENT: list[dict[str, Any]] = [
    {"type": "session.update", "event_id": "cfg-1", "session": FULL_SESSION},
    {"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"noise_reduction": None}}}},
    {"type": "session.update", "session": {"type": "realtime", "audio": {"input": {  # "null to turn off"
        "transcription": None, "turn_detection": None}}}},
    {"type": "input_audio_buffer.append", "audio": "AAAA"},
    {"type": "input_audio_buffer.commit"},
    {"type": "input_audio_buffer.clear"},
    {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                  "content": [{"type": "input_text", "text": "What's 2+2?"}]}},
    {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [
        {"type": "input_audio", "audio": "AAAA", "transcript": "optional, not sent to model"}]}},
    {"type": "conversation.item.create", "item": {"type": "message", "role": "system",
                                                  "content": [{"type": "input_text", "text": "In the kitchen."}]}},
    {"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": "call_sHlR7iaFwQ2YQOqm",
                                                  "output": "{\"ok\":true,\"timer_id\":\"t1\"}"}},
    {"type": "conversation.item.create", "item": {"type": "mcp_approval_response", "id": "mcpa_mcpr_123",
                                                  "approval_request_id": "mcpr_123", "approve": True}},
    {"type": "conversation.item.retrieve", "item_id": "item_1"},
    {"type": "conversation.item.truncate", "item_id": "item_1234", "content_index": 0, "audio_end_ms": 1500},
    {"type": "conversation.item.delete", "item_id": "item_1"},
    {"type": "response.create"},
    {"type": "response.create", "response": {
        "conversation": "none", "metadata": {"purpose": "classify"}, "output_modalities": ["text"],
        "instructions": "Reply 'timer' or 'other'.",
        "input": [{"type": "item_reference", "id": "item_123"},
                  {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "classify"}]}]}},
    {"type": "response.create", "response": {"input": [], "instructions": "Say exactly: Timer done!"}},
    {"type": "response.cancel"},
    {"type": "response.cancel", "response_id": "resp_1"},
]

# (event, the path the message must name, a word the message must contain)
INVALID_CLIENT: list[tuple[dict[str, Any], str, str]] = [
    ({"type": "session.update", "session": {"type": "realtime", "instrucions": "x"}},
     "session.instrucions", "unknown field"),
    ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": {
        "type": "server_vad", "treshold": 0.5}}}}}, "session.audio.input.turn_detection.treshold", "unknown"),
    ({"type": "session.update", "session": {"modalities": ["audio"], "voice": "marin"}},  # the beta shape
     "session.modalities", "unknown field"),
    ({"type": "session.update", "session": {"type": "realtime", "voice": "marin", "temperature": 0.8}},
     "session.temperature", "unknown field"),
    ({"type": "session.update", "session": {"type": "realtime", "input_audio_format": "pcm16"}},
     "session.input_audio_format", "unknown field"),
    ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"format": {
        "type": "audio/pcm", "rate": 16000}}}}}, "session.audio.input.format.rate", "24000"),
    ({"type": "session.update", "session": {"type": "realtime", "output_modalities": "audio"}},
     "session.output_modalities", "list"),
    ({"type": "session.update", "session": {"type": "realtime", "tools": [{"type": "function", "nam": "x"}]}},
     "session.tools[0].nam", "unknown field"),
    ({"type": "input_audio_buffer.append", "audio": b"AAAA"}, "audio", "string"),
    ({"type": "input_audio_buffer.append", "audio": "not base64!!"}, "audio", "base64"),
    ({"type": "input_audio_buffer.append"}, "audio", "required"),
    ({"type": "input_audio_buffer.apend", "audio": "AAAA"}, "type", "input_audio_buffer.append"),
    ({"type": "response.audio.delta"}, "type", "unknown"),
    ({"type": "transcription_session.update", "session": {}}, "type", "unknown"),
    ({"type": "conversation.item.truncate", "item_id": "item_1", "audio_end_ms": 1500}, "content_index", "required"),
    ({"type": "conversation.item.truncate", "item_id": "i", "content_index": 0, "audio_end_ms": "1500"},
     "audio_end_ms", "integer"),
    ({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                   "content": [{"type": "input_text", "txt": "hi"}]}},
     "item.content[0].txt", "unknown field"),
    ({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                   "content": [{"type": "input_audio", "audio": "@@"}]}},
     "item.content[0].audio", "base64"),
    ({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": "c",
                                                   "output": {"ok": True}}}, "item.output", "string"),
    ({"type": "conversation.item.create", "item": {"type": "mcp_approval_response",
                                                   "approval_request_id": "mcpr_1", "approve": True}},
     "item.id", "required"),
    ({"type": "response.create", "response": {"tools": [{"type": "function", "nam": "x"}]}},
     "response.tools[0].nam", "unknown field"),
    ({"type": "response.create", "response": {"modalities": ["text"]}}, "response.modalities", "unknown field"),
    ({"type": "input_audio_buffer.commit", "event_id": 7}, "event_id", "string"),
]


@pytest.mark.parametrize("event", VALID_CLIENT, ids=lambda e: e["type"])
def test_the_reference_client_events_pass(event: dict[str, Any]) -> None:
    validate_client_event(event)


@pytest.mark.parametrize(("event", "path", "word"), INVALID_CLIENT, ids=lambda x: x if isinstance(x, str) else "")
def test_client_mistakes_are_caught_and_named(event: dict[str, Any], path: str, word: str) -> None:
    with pytest.raises(ValidationFailure) as info:
        validate_client_event(event)
    failure = info.value
    assert failure.event_type == event["type"] and failure.side == "client"
    assert path in [p.path for p in failure.problems], str(failure)
    assert word in str(failure)


def test_union_noise_is_filtered_to_the_member_meant() -> None:
    """A misspelled key inside a realtime session names that key only, not the transcription session's
    or the MCP tool's complaints."""
    with pytest.raises(ValidationFailure) as info:
        validate_session_update({"type": "realtime", "tools": [{"type": "function", "nam": "x"}]})
    assert [str(p) for p in info.value.problems] == ["session.tools[0].nam: unknown field (not in the GA schema)"]
    assert "Transcription" not in str(info.value) and "Mcp" not in str(info.value)
    with pytest.raises(ValidationFailure) as info:
        validate_client_event({"type": "conversation.item.create", "item": {"type": "message", "role": "robot",
                                                                            "content": []}})
    assert [p.path for p in info.value.problems] == ["item.role"]


def test_validate_session_update_accepts_the_full_example() -> None:
    validate_session_update(FULL_SESSION)
    with pytest.raises(ValidationFailure):
        validate_session_update({**FULL_SESSION, "prompt_id": "x"})


def test_the_sdk_unions_are_complete() -> None:
    assert len(client_event_types()) == 11
    assert {"response.output_audio.delta", "conversation.item.added", "mcp_list_tools.completed"} <= \
        server_event_types()
    assert "response.audio.delta" not in server_event_types()


VALID_SERVER: list[dict[str, Any]] = [  # realtime-protocol.md §4 and §8
    {"type": "response.output_audio.delta", "event_id": "e1", "response_id": "r1", "item_id": "i1",
     "output_index": 0, "content_index": 0, "delta": "AAAA"},
    {"type": "response.done", "event_id": "e2", "response": {
        "id": "r1", "object": "realtime.response", "status": "cancelled",
        "status_details": {"type": "cancelled", "reason": "turn_detected"},
        "usage": {"total_tokens": 253, "input_tokens": 132, "output_tokens": 121,
                  "input_token_details": {"text_tokens": 119, "audio_tokens": 13, "image_tokens": 0,
                                          "cached_tokens": 64, "cached_tokens_details": {
                                              "text_tokens": 64, "audio_tokens": 0, "image_tokens": 0}},
                  "output_token_details": {"text_tokens": 30, "audio_tokens": 91}}}},
    {"type": "error", "event_id": "e3", "error": {"type": "invalid_request_error", "code": "invalid_value",
                                                  "message": "bad", "param": "type", "event_id": "my_evt"}},
    {"type": "mcp_list_tools.completed", "event_id": "e4", "item_id": "mcpl_1"},
    {"type": "session.created", "event_id": "e5", "session": {
        "type": "realtime", "object": "realtime.session", "id": "sess_1", "expires_at": 1756324625,
        "model": "gpt-realtime-2.1", "output_modalities": ["audio"], "tracing": None}},
    {"type": "response.function_call_arguments.done", "event_id": "e6", "response_id": "r", "item_id": "i",
     "output_index": 0, "call_id": "call_1", "name": "set_timer", "arguments": "{\"seconds\":5}"},
]

INVALID_SERVER: list[tuple[dict[str, Any], str]] = [
    ({"type": "response.audio.delta", "event_id": "e5", "response_id": "r1", "item_id": "i1", "output_index": 0,
      "content_index": 0, "delta": "AAAA"}, "type"),  # the beta name
    ({"type": "response.output_audio.delta", "event_id": "e1", "response_id": "r1", "item_id": "i1",
      "output_index": 0, "content_index": 0, "delta": "AAAA", "deltaa": "x"}, "deltaa"),
    ({"type": "response.output_audio.delta", "event_id": "e1", "response_id": "r1", "item_id": "i1",
      "output_index": "0", "content_index": 0, "delta": "AAAA"}, "output_index"),  # strict: no "0" -> 0
    ({"type": "response.output_audio.delta", "event_id": "e1", "response_id": "r1", "item_id": "i1",
      "output_index": 0, "content_index": 0}, "delta"),
    ({"type": "response.done", "event_id": "e", "response": {"id": "r", "output": [
        {"type": "message", "role": "assistant", "content": [{"type": "output_audio", "transcript": "x",
                                                              "audio_bytes": "x"}]}]}},
     "response.output[0].content[0].audio_bytes"),
    ({"type": "session.updated", "event_id": "e", "session": {"type": "realtime", "voice": "marin"}},
     "session.voice"),  # beta flat field: not on the allowlist
]


@pytest.mark.parametrize("event", VALID_SERVER, ids=lambda e: e["type"])
def test_the_reference_server_events_pass(event: dict[str, Any]) -> None:
    validate_server_event(event)


@pytest.mark.parametrize(("event", "path"), INVALID_SERVER, ids=lambda x: x if isinstance(x, str) else "")
def test_server_drift_is_caught(event: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailure) as info:
        validate_server_event(event)
    assert info.value.side == "server"
    assert path in [p.path for p in info.value.problems], str(info.value)


def test_the_allowlist_is_small_and_session_only() -> None:
    assert {p for _, p in SERVER_UNDECLARED_ALLOWED} == {"session.id", "session.object", "session.expires_at"}
    assert {e for e, _ in SERVER_UNDECLARED_ALLOWED} == {"session.created", "session.updated"}


def test_non_objects_are_rejected() -> None:
    bad: list[Any] = [[], "session.update", {"type": 5}]
    for event in bad:
        with pytest.raises(ValidationFailure):
            validate_client_event(event)
