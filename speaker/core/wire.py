"""Builders for the GA client events the core sends. Type tags live here, once."""

from __future__ import annotations

from typing import Any

COMMIT = "input_audio_buffer.commit"
CLEAR_INPUT = "input_audio_buffer.clear"
RESPONSE_CREATE = "response.create"
RESPONSE_CANCEL = "response.cancel"
ITEM_CREATE = "conversation.item.create"
ITEM_TRUNCATE = "conversation.item.truncate"


def commit() -> dict[str, Any]:
    return {"type": COMMIT}


def clear_input() -> dict[str, Any]:
    return {"type": CLEAR_INPUT}


def response_create(instructions: str | None = None) -> dict[str, Any]:
    if instructions:
        return {"type": RESPONSE_CREATE, "response": {"instructions": instructions}}
    return {"type": RESPONSE_CREATE}


def response_cancel() -> dict[str, Any]:
    return {"type": RESPONSE_CANCEL}


def truncate(item_id: str, audio_end_ms: int) -> dict[str, Any]:
    return {"type": ITEM_TRUNCATE, "item_id": item_id, "content_index": 0, "audio_end_ms": audio_end_ms}


def function_output(call_id: str, output: str) -> dict[str, Any]:
    return {"type": ITEM_CREATE, "item": {"type": "function_call_output", "call_id": call_id, "output": output}}
