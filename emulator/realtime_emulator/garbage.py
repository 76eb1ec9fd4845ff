"""Hostile frames for ``Fault.garbage``: what a broken or malicious Realtime server could send.

Everything here is DELIBERATELY INVALID and never goes through the emulator's own validation: the
connection sends these frames raw, logs each batch as an injected fault and records it in
``Emulator.injected``. Every JSON frame's ``event_id`` starts with ``event_emufault_`` so a reader of a
wire log can tell the injected frames from the emulator's real ones.

The variants (:data:`VARIANTS`), each a list of text frames:

``done_before_created``  ``response.done`` for the real response, sent *before* its ``response.created``
``odd_audio``            an audio delta whose base64 decodes to an odd number of bytes (3)
``bad_base64``           an audio delta that is not base64 at all
``infinite_number``      ``speech_started`` with ``audio_start_ms: 1e309`` (raw JSON text: json.dumps cannot)
``infinite_usage``       ``response.done`` for the current response with ``1e309`` token counts
``nan_number``           ``speech_stopped`` with ``audio_end_ms: NaN``; ``rate_limits.updated`` with ``Infinity``
``huge_string``          a 100 kB transcript delta
``missing_fields``       an audio delta without ids or audio; ``response.done`` without a response; no type
``unknown_type``         an event type the protocol does not have
``not_json``             a truncated JSON text
``not_object``           JSON that is not an object: an array, a string, ``null``
``unknown_response_done`` a well-formed ``response.done`` (with usage) for a response that never existed
``unknown_item_delta``   a well-formed audio delta (100 ms of a 1 kHz tone) for an unknown response and item
``unknown_call_done``    ``function_call_arguments.done`` for a call never announced, naming an offered tool
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FAULT_ID = "event_emufault_"
"""Prefix of the ``event_id`` of every injected JSON frame."""

INF = "__emufault_inf__"
NAN = "__emufault_nan__"
PLUS_INFINITY = "__emufault_infinity__"
_RAW = {f'"{INF}"': "1e309", f'"{NAN}"': "NaN", f'"{PLUS_INFINITY}"': "Infinity"}

HUGE = 100_000
"""Characters in the ``huge_string`` delta."""


@dataclass(frozen=True)
class Context:
    """Where in the reply the frames land: the real response and item they may pretend to belong to."""

    response_id: str
    item_id: str
    output_index: int
    response: dict[str, Any]
    """The real response object as ``response.done`` would carry it now (for look-alike frames)."""
    tool: str
    """A function tool the session offers (or ``unknown_tool``)."""


def _raw(event: dict[str, Any]) -> str:
    """JSON text with the placeholders turned into what strict JSON cannot say."""
    text = json.dumps(event)
    for placeholder, literal in _RAW.items():
        text = text.replace(placeholder, literal)
    return text


def _event(variant: str, type: str, **fields: Any) -> dict[str, Any]:
    return {"type": type, "event_id": FAULT_ID + variant, **fields}


def _audio_ids(c: Context) -> dict[str, Any]:
    return {"response_id": c.response_id, "item_id": c.item_id, "output_index": c.output_index, "content_index": 0}


def _tone() -> str:
    pcm = bytearray()
    for n in range(2400):  # 100 ms at 24 kHz
        pcm += int(3000 * math.sin(2 * math.pi * 1000 * n / 24000)).to_bytes(2, "little", signed=True)
    return base64.b64encode(bytes(pcm)).decode("ascii")


def _usage(tokens: Any) -> dict[str, Any]:
    return {"total_tokens": tokens, "input_tokens": tokens, "output_tokens": 0,
            "input_token_details": {"text_tokens": tokens, "audio_tokens": 0, "cached_tokens": 0,
                                    "image_tokens": 0},
            "output_token_details": {"text_tokens": 0, "audio_tokens": 0}}


def _done_before_created(v: str, c: Context) -> list[str]:
    return [_raw(_event(v, "response.done", response={**c.response, "status": "completed", "output": [],
                                                      "usage": _usage(0)}))]


def _odd_audio(v: str, c: Context) -> list[str]:
    return [_raw(_event(v, "response.output_audio.delta", **_audio_ids(c), delta="AQID"))]  # 3 bytes


def _bad_base64(v: str, c: Context) -> list[str]:
    return [_raw(_event(v, "response.output_audio.delta", **_audio_ids(c), delta="%%not*base64!!"))]


def _infinite_number(v: str, c: Context) -> list[str]:
    return [_raw(_event(v, "input_audio_buffer.speech_started", audio_start_ms=INF, item_id="item_emufault"))]


def _infinite_usage(v: str, c: Context) -> list[str]:
    return [_raw(_event(v, "response.done", response={**c.response, "status": "completed", "usage": _usage(INF)}))]


def _nan_number(v: str, c: Context) -> list[str]:
    return [_raw(_event(v, "input_audio_buffer.speech_stopped", audio_end_ms=NAN, item_id="item_emufault")),
            _raw(_event(v, "rate_limits.updated", rate_limits=[
                {"name": "tokens", "limit": PLUS_INFINITY, "remaining": NAN, "reset_seconds": INF}]))]


def _huge_string(v: str, c: Context) -> list[str]:
    return [_raw(_event(v, "response.output_audio_transcript.delta", **_audio_ids(c), delta="A" * HUGE))]


def _missing_fields(v: str, c: Context) -> list[str]:
    return [_raw(_event(v, "response.output_audio.delta")), _raw(_event(v, "response.done")),
            _raw({"event_id": FAULT_ID + v})]


def _unknown_type(v: str, c: Context) -> list[str]:
    return [_raw(_event(v, "response.emulator_fault.teleported", response_id=c.response_id))]


def _not_json(v: str, c: Context) -> list[str]:
    return ['{"type": "response.output_audio.delta", "event_id": "' + FAULT_ID + v + '", "delta": "AAAA']


def _not_object(v: str, c: Context) -> list[str]:
    return ["[1, 2, 3]", '"response.done"', "null"]


def _unknown_response_done(v: str, c: Context) -> list[str]:
    usage = {**_usage(2000), "output_tokens": 500, "total_tokens": 2500,
             "output_token_details": {"text_tokens": 100, "audio_tokens": 400}}
    response = {**c.response, "id": "resp_emufaultunknown0000", "status": "completed", "output": [],
                "usage": usage}
    return [_raw(_event(v, "response.done", response=response))]


def _unknown_item_delta(v: str, c: Context) -> list[str]:
    return [_raw(_event(v, "response.output_audio.delta", response_id="resp_emufaultunknown0001",
                        item_id="item_emufaultunknown0001", output_index=0, content_index=0, delta=_tone()))]


def _unknown_call_done(v: str, c: Context) -> list[str]:
    return [_raw(_event(v, "response.function_call_arguments.done", response_id=c.response_id,
                        item_id="item_emufaultunknown0002", output_index=c.output_index + 1,
                        call_id="call_emufaultunknown0002", name=c.tool, arguments="{}"))]


VARIANTS: dict[str, Callable[[str, Context], list[str]]] = {
    "done_before_created": _done_before_created,
    "odd_audio": _odd_audio,
    "bad_base64": _bad_base64,
    "infinite_number": _infinite_number,
    "infinite_usage": _infinite_usage,
    "nan_number": _nan_number,
    "huge_string": _huge_string,
    "missing_fields": _missing_fields,
    "unknown_type": _unknown_type,
    "not_json": _not_json,
    "not_object": _not_object,
    "unknown_response_done": _unknown_response_done,
    "unknown_item_delta": _unknown_item_delta,
    "unknown_call_done": _unknown_call_done,
}
"""Every variant, in the order ``Fault.garbage()`` sends them (``done_before_created`` goes out before
``response.created``; the rest after the fault's ``after_deltas`` audio deltas)."""

BEFORE_CREATED = frozenset({"done_before_created"})


def frames(variant: str, context: Context) -> list[str]:
    return VARIANTS[variant](variant, context)
