"""The emulated session's configuration: the default the service announces in ``session.created`` and
how ``session.update`` changes it ("only the fields that are present are updated"; ``null`` clears)."""

from __future__ import annotations

import copy
import secrets
import string
from typing import Any

EMULATOR_INSTRUCTIONS = (
    "[EMULATOR] This session is served by the room-speaker Realtime emulator, not the OpenAI service. "
    "Replies come from a test script."
)
PCM = {"type": "audio/pcm", "rate": 24000}
SESSION_CAP_S = 60 * 60

SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200,
    "idle_timeout_ms": None, "create_response": True, "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "type": "semantic_vad", "eagerness": "auto", "create_response": True, "interrupt_response": True,
}
SEMANTIC_SILENCE_MS = {"high": 300, "medium": 700, "auto": 700, "low": 1500}
"""semantic_vad is emulated as an energy VAD that waits this long for the given eagerness."""

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """An id shaped like the service's (``item_…``, ``resp_…``), marked ``emu`` for whoever reads logs."""
    return f"{prefix}_emu{''.join(secrets.choice(_ALPHABET) for _ in range(16))}"


class SessionError(ValueError):
    """A ``session.update`` the service would refuse."""

    def __init__(self, message: str, param: str | None = None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.param = param
        self.code = code


def default_session(model: str, session_id: str, expires_at: int) -> dict[str, Any]:
    """What ``session.created`` announces: the service's defaults (server VAD on, voice marin, pcm
    24 kHz both ways), the requested model, and instructions that say this is the emulator."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": EMULATOR_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": expires_at,
        "audio": {
            "input": {
                "format": dict(PCM),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(SERVER_VAD_DEFAULTS),
            },
            "output": {"format": dict(PCM), "voice": "marin", "speed": 1.0},
        },
        "include": None,
    }


def merge_session(current: dict[str, Any], update: dict[str, Any], *, audio_sent: bool) -> dict[str, Any]:
    """The effective session after a (schema-valid) ``session.update``; raise :class:`SessionError`
    for what the service refuses: another session type or model, both output modalities, a voice
    once assistant audio went out."""
    if update.get("type") != "realtime":
        raise SessionError("This session is a realtime session; its type cannot change.", "session.type")
    if "model" in update and update["model"] != current["model"]:
        raise SessionError(f"The model cannot be changed after connecting (it is {current['model']!r}).",
                           "session.model")
    modalities = update.get("output_modalities")
    if modalities is not None and len(set(modalities)) != 1:
        raise SessionError("output_modalities must be ['audio'] or ['text'], not both.", "session.output_modalities")
    # strict on purpose: field reports (openai-agents-python#1661) show this error for an update that
    # merely repeats the voice once the assistant has spoken, so a client should not send it again
    if audio_sent and "voice" in ((update.get("audio") or {}).get("output") or {}):
        raise SessionError("Cannot update a conversation's voice if assistant audio is present.",
                           code="cannot_update_voice")
    new = copy.deepcopy(current)
    for key, value in update.items():
        if key == "audio":
            for side in ("input", "output"):
                for field, setting in (value.get(side) or {}).items():
                    new["audio"][side][field] = _normalised(field, setting)
        elif key != "type":
            new[key] = copy.deepcopy(value)
    return new


def _normalised(field: str, value: Any) -> Any:
    """Turn detection comes back complete, with the service's defaults for what was left out."""
    if field == "turn_detection" and isinstance(value, dict):
        base = SERVER_VAD_DEFAULTS if value.get("type") == "server_vad" else SEMANTIC_VAD_DEFAULTS
        return {**base, **value}
    return copy.deepcopy(value)


def turn_detection(session: dict[str, Any]) -> dict[str, Any] | None:
    value = session["audio"]["input"]["turn_detection"]
    return value if isinstance(value, dict) else None


def vad_silence_ms(detection: dict[str, Any]) -> int:
    if detection["type"] == "server_vad":
        return int(detection.get("silence_duration_ms") or SERVER_VAD_DEFAULTS["silence_duration_ms"])
    return SEMANTIC_SILENCE_MS.get(str(detection.get("eagerness") or "auto"), 700)


def bytes_per_ms(audio_format: dict[str, Any]) -> float:
    """PCM16 at 24 kHz is 48 bytes per ms; G.711 (pcmu/pcma) is 8 kHz, one byte per sample."""
    return 48.0 if audio_format.get("type") == "audio/pcm" else 8.0
