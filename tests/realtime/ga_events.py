"""Hand-written valid GA server events (checked against the openai types in test_fuzz.py): one session
with an audio reply, a function call and a barge-in, in the order the service sends them."""

from __future__ import annotations

import base64
import json
from typing import Any

AUDIO = base64.b64encode(bytes(range(256)) * 4).decode("ascii")  # 1024 bytes: 512 samples
USAGE = {"total_tokens": 253, "input_tokens": 132, "output_tokens": 121,
         "input_token_details": {"text_tokens": 119, "audio_tokens": 13, "image_tokens": 0, "cached_tokens": 64,
                                 "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0, "image_tokens": 0}},
         "output_token_details": {"text_tokens": 30, "audio_tokens": 91}}


def _response(rid: str, status: str, output: list[dict[str, Any]], details: Any = None) -> dict[str, Any]:
    return {"object": "realtime.response", "id": rid, "status": status, "status_details": details,
            "output": output, "conversation_id": "conv_1", "output_modalities": ["audio"],
            "max_output_tokens": "inf", "usage": USAGE if status != "in_progress" else None, "metadata": None,
            "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}}}


def _message(item_id: str, status: str, transcript: str) -> dict[str, Any]:
    content = [{"type": "output_audio", "transcript": transcript}] if status != "in_progress" else []
    return {"id": item_id, "object": "realtime.item", "type": "message", "status": status, "role": "assistant",
            "content": content}


def _call(item_id: str, status: str, arguments: str) -> dict[str, Any]:
    return {"id": item_id, "object": "realtime.item", "type": "function_call", "status": status,
            "name": "set_timer", "call_id": "call_1", "arguments": arguments}


def _reply(rid: str, item_id: str, text: str, *, deltas: int = 3, status: str = "completed") -> list[dict[str, Any]]:
    ids = {"response_id": rid, "item_id": item_id, "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "event_id": f"ev_{rid}_c", "response": _response(rid, "in_progress", [])},
        {"type": "response.output_item.added", "event_id": f"ev_{rid}_a", "response_id": rid, "output_index": 0,
         "item": _message(item_id, "in_progress", "")},
    ]
    for n in range(deltas):
        events.append({"type": "response.output_audio.delta", "event_id": f"ev_{rid}_d{n}", **ids, "delta": AUDIO})
        events.append({"type": "response.output_audio_transcript.delta", "event_id": f"ev_{rid}_t{n}", **ids,
                       "delta": text.split()[n % len(text.split())]})
    details = {"type": "cancelled", "reason": "turn_detected"} if status == "cancelled" else None
    events += [
        {"type": "response.output_audio.done", "event_id": f"ev_{rid}_ad", **ids},
        {"type": "response.output_audio_transcript.done", "event_id": f"ev_{rid}_td", **ids, "transcript": text},
        {"type": "response.output_item.done", "event_id": f"ev_{rid}_id", "response_id": rid, "output_index": 0,
         "item": _message(item_id, "completed", text)},
        {"type": "response.done", "event_id": f"ev_{rid}_done",
         "response": _response(rid, status, [_message(item_id, "completed", text)], details)},
    ]
    return events


def session() -> list[dict[str, Any]]:
    """A whole session, as the service would send it."""
    args = json.dumps({"seconds": 300})
    call_ids = {"response_id": "resp_2", "item_id": "item_2", "output_index": 0, "call_id": "call_1"}
    return [
        {"type": "session.created", "event_id": "ev_s", "session": {"type": "realtime", "id": "sess_1",
                                                                     "object": "realtime.session",
                                                                     "model": "gpt-realtime-2.1"}},
        {"type": "input_audio_buffer.speech_started", "event_id": "ev_ss", "audio_start_ms": 120,
         "item_id": "item_u1"},
        {"type": "input_audio_buffer.speech_stopped", "event_id": "ev_sp", "audio_end_ms": 1820,
         "item_id": "item_u1"},
        {"type": "input_audio_buffer.committed", "event_id": "ev_co", "item_id": "item_u1",
         "previous_item_id": None},
        {"type": "conversation.item.input_audio_transcription.completed", "event_id": "ev_tr",
         "item_id": "item_u1", "content_index": 0, "transcript": "set a timer for five minutes",
         "usage": {"type": "duration", "seconds": 1.7}},
        *_reply("resp_1", "item_1", "Sure, five minutes."),
        {"type": "response.created", "event_id": "ev_r2c", "response": _response("resp_2", "in_progress", [])},
        {"type": "response.output_item.added", "event_id": "ev_r2a", "response_id": "resp_2", "output_index": 0,
         "item": _call("item_2", "in_progress", "")},
        {"type": "response.function_call_arguments.delta", "event_id": "ev_r2d", **call_ids, "delta": args},
        {"type": "response.function_call_arguments.done", "event_id": "ev_r2f", **call_ids,
         "name": "set_timer", "arguments": args},
        {"type": "response.output_item.done", "event_id": "ev_r2i", "response_id": "resp_2", "output_index": 0,
         "item": _call("item_2", "completed", args)},
        {"type": "response.done", "event_id": "ev_r2done",
         "response": _response("resp_2", "completed", [_call("item_2", "completed", args)])},
        *_reply("resp_3", "item_3", "The timer is set for five minutes.", deltas=4, status="cancelled"),
        {"type": "conversation.item.truncated", "event_id": "ev_trunc", "item_id": "item_3", "content_index": 0,
         "audio_end_ms": 15},
        {"type": "error", "event_id": "ev_err", "error": {"type": "invalid_request_error",
                                                          "code": "response_cancel_not_active",
                                                          "message": "no active response", "param": None,
                                                          "event_id": "spk_9"}},
        {"type": "rate_limits.updated", "event_id": "ev_rl", "rate_limits": [
            {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 0.06}]},
    ]
