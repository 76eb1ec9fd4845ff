"""parse_server_event: typed events from GA JSON; malformed input is a ProtocolError, never a crash."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from speaker.realtime.events import (
    AudioDelta,
    FunctionCall,
    InputCommitted,
    InputTranscript,
    ItemTruncated,
    McpEvent,
    Other,
    ProtocolError,
    ResponseDone,
    ServerError,
    SessionCreated,
    parse_server_event,
)


def test_response_done_with_a_function_call_and_usage() -> None:
    ev = parse_server_event({"type": "response.done", "event_id": "e", "response": {
        "id": "resp_1", "status": "completed", "status_details": None,
        "output": [{"type": "message", "id": "it_0"},
                   {"type": "function_call", "id": "it_1", "call_id": "call_1", "name": "set_timer",
                    "arguments": "{\"seconds\": 60}"}],
        "usage": {"input_token_details": {"audio_tokens": 13, "cached_tokens_details": None},
                  "output_token_details": {"audio_tokens": 91}},
        "metadata": {"purpose": "x"}}})
    assert isinstance(ev, ResponseDone)
    assert ev.function_calls == (FunctionCall("resp_1", "it_1", "call_1", "set_timer", "{\"seconds\": 60}"),)
    assert (ev.usage.audio_in, ev.usage.audio_out, ev.usage.text_cached) == (13, 91, 0)
    assert ev.metadata == {"purpose": "x"}


def test_cancelled_and_failed_responses_keep_their_reason() -> None:
    cancelled = parse_server_event({"type": "response.done", "response": {
        "id": "r", "status": "cancelled", "status_details": {"type": "cancelled", "reason": "turn_detected"}}})
    assert isinstance(cancelled, ResponseDone) and cancelled.reason == "turn_detected"
    failed = parse_server_event({"type": "response.done", "response": {
        "id": "r", "status": "failed", "status_details": {"type": "failed", "error": {"type": "server_error",
                                                                                    "code": "x"}}}})
    assert isinstance(failed, ResponseDone) and failed.error == "x"


def test_error_event_with_param_and_event_id() -> None:
    ev = parse_server_event({"type": "error", "event_id": "e", "error": {
        "type": "invalid_request_error", "code": "invalid_value", "message": "bad", "param": "session.voice",
        "event_id": "spk_3"}})
    assert ev == ServerError("invalid_request_error", "invalid_value", "bad", "spk_3", "session.voice")


def test_small_events() -> None:
    assert parse_server_event({"type": "session.created", "session": {"id": "s", "model": "m"}}) == \
        SessionCreated("s", "m")
    assert parse_server_event({"type": "input_audio_buffer.committed", "item_id": "it_1",
                               "previous_item_id": None}) == InputCommitted("it_1")
    assert parse_server_event({"type": "conversation.item.truncated", "item_id": "it_2", "content_index": 0,
                               "audio_end_ms": 1500}) == ItemTruncated("it_2", 1500)
    assert parse_server_event({"type": "conversation.item.input_audio_transcription.completed", "item_id": "i",
                               "content_index": 0, "transcript": "hi",
                               "usage": {"type": "duration", "seconds": 2.5}}) == InputTranscript("i", "hi", 2.5)
    assert parse_server_event({"type": "conversation.item.input_audio_transcription.completed", "item_id": "i",
                               "transcript": "hi", "usage": {"type": "tokens", "input_tokens": 3}}) == \
        InputTranscript("i", "hi", 0.0)
    assert isinstance(parse_server_event({"type": "mcp_list_tools.completed", "item_id": "m"}), McpEvent)
    assert parse_server_event({"type": "conversation.item.added", "item": {}}) == Other("conversation.item.added")


def test_audio_delta_decodes_pcm() -> None:
    ev = parse_server_event({"type": "response.output_audio.delta", "response_id": "r", "item_id": "i",
                             "output_index": 0, "content_index": 0,
                             "delta": base64.b64encode(b"\x00\x01" * 4).decode()})
    assert isinstance(ev, AudioDelta) and ev.pcm == b"\x00\x01" * 4


@pytest.mark.parametrize("raw", [
    [], "text", {"no": "type"}, {"type": 5},
    {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": "***"},
    {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": "AAAA",
     "content_index": "zero"},
    {"type": "response.done", "response": []},
    {"type": "response.done", "response": {"id": 7}},
    {"type": "response.created", "response": None},
    {"type": "error", "error": "boom"},
    {"type": "input_audio_buffer.speech_started", "audio_start_ms": "0"},
    {"type": "conversation.item.truncated", "item_id": "i", "audio_end_ms": [1]},
    {"type": "response.function_call_arguments.done", "response_id": "r"},
])
def test_malformed_events_raise_protocol_error_only(raw: Any) -> None:
    with pytest.raises(ProtocolError):
        parse_server_event(raw)


def test_odd_but_harmless_shapes_are_tolerated() -> None:
    ev = parse_server_event({"type": "response.done", "response": {"id": "r", "output": "x", "usage": [],
                                                                   "status_details": "?"}})
    assert isinstance(ev, ResponseDone) and ev.function_calls == () and ev.usage.total == 0
    fixes: list[str] = []
    partial = parse_server_event({"type": "response.done", "response": {"id": "r", "output": [
        {"type": "function_call"}, {"type": "function_call", "id": "i", "call_id": "c", "name": "f"}]}}, fixes)
    assert isinstance(partial, ResponseDone) and [c.call_id for c in partial.function_calls] == ["c"]
    assert fixes and "function call dropped" in fixes[0]
    assert parse_server_event({"type": "session.created", "session": []}) == SessionCreated(None, None)
