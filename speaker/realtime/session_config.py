"""The GA ``session.update`` payload, built from settings in one place.

Only GA fields are written (protocol reference §2): ``session.type`` is always ``"realtime"``, audio settings
are nested under ``audio.input`` / ``audio.output`` with object formats, and the beta-era flat keys
(``voice``, ``modalities``, ``temperature``, ``input_audio_format``…) never appear: the server now closes the
socket (4000 ``beta_api_shape_disabled``) when it sees the beta shape.

The result contains secrets when remote MCP servers carry headers or tokens: log only the copies
``speaker.mcp.remote.redact_session`` makes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from speaker.config.schema import (
    LocalTurnSettings,
    RealtimeSettings,
    SemanticVadSettings,
    ServerVadSettings,
)
from speaker.tools.base import ToolSpec

SESSION_UPDATE: Final = "session.update"
PCM_24K: Final[dict[str, Any]] = {"type": "audio/pcm", "rate": 24000}
"""The only PCM format the API takes: 16-bit little-endian mono at 24 kHz."""

REASONING_MODEL_PREFIXES: Final = ("gpt-realtime-2",)
"""Models that take ``reasoning.effort`` (gpt-realtime-2, 2.1, 2.1-mini and their snapshots)."""


def build_session(settings: RealtimeSettings, *, tools: Sequence[ToolSpec], mcp_tools: Sequence[dict[str, Any]],
                  voice: str | None = None, extra_instructions: str | None = None) -> dict[str, Any]:
    """The ``session`` object of a GA ``session.update`` for one conversation.

    ``tools`` are the local function tools; ``mcp_tools`` are ready remote MCP tool dicts, built by
    ``speaker.mcp.remote.session_mcp_tools`` (the one builder of their wire form). ``voice`` and
    ``extra_instructions`` come from the wake word that opened the conversation. Raises ValueError when two
    tools share a name or two MCP servers share a label (the server would refuse the whole update).
    """
    instructions = settings.instructions
    if extra_instructions and extra_instructions.strip():
        instructions = f"{instructions.rstrip()}\n\n{extra_instructions.strip()}"

    input_cfg: dict[str, Any] = {"format": dict(PCM_24K)}
    # Noise reduction and transcription are off in a new session, and this update is the first one on a
    # fresh connection, so "off" is written by leaving the key out. (The SDK docstring allows null, but its
    # param types do not, and the strict validator follows the types.)
    if settings.noise_reduction is not None:
        input_cfg["noise_reduction"] = {"type": settings.noise_reduction}
    transcription = _transcription(settings)
    if transcription is not None:
        input_cfg["transcription"] = transcription
    # turn_detection is on (server_vad) in a new session: null is needed to switch it off
    input_cfg["turn_detection"] = turn_detection(settings)
    session: dict[str, Any] = {
        "type": "realtime",
        "model": settings.model,
        "instructions": instructions,
        "output_modalities": list(settings.output_modalities),
        "audio": {
            "input": input_cfg,
            "output": {"format": dict(PCM_24K), "voice": voice or settings.voice, "speed": settings.speed},
        },
        "tools": _tools(tools, mcp_tools),
        "tool_choice": settings.tool_choice,
        "max_output_tokens": settings.max_output_tokens,
    }
    if settings.retention_ratio is not None:
        truncation: dict[str, Any] = {"type": "retention_ratio", "retention_ratio": settings.retention_ratio}
        if settings.post_instructions_token_limit is not None:
            truncation["token_limits"] = {"post_instructions": settings.post_instructions_token_limit}
        session["truncation"] = truncation
    # else: leave the server default ("auto")
    if settings.reasoning_effort is not None and is_reasoning_model(settings.model):
        session["reasoning"] = {"effort": settings.reasoning_effort}
    return session


def session_update_event(session: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """Wrap a ``session`` object as a client event (the connection assigns ``event_id`` if not given)."""
    event: dict[str, Any] = {"type": SESSION_UPDATE, "session": session}
    if event_id is not None:
        event["event_id"] = event_id
    return event


def turn_detection(settings: RealtimeSettings) -> dict[str, Any] | None:
    """``audio.input.turn_detection``: null for local turn detection (we commit and create responses),
    otherwise server_vad / semantic_vad with every value explicit. ``idle_timeout_ms`` is never set: it
    makes the model *speak* after silence, which a room speaker must not do."""
    td = settings.turn_detection
    if isinstance(td, LocalTurnSettings):
        return None
    if isinstance(td, ServerVadSettings):
        return {"type": "server_vad", "threshold": td.threshold, "prefix_padding_ms": td.prefix_padding_ms,
                "silence_duration_ms": td.silence_duration_ms, "create_response": True,
                "interrupt_response": True}
    if isinstance(td, SemanticVadSettings):
        return {"type": "semantic_vad", "eagerness": td.eagerness, "create_response": True,
                "interrupt_response": True}
    raise AssertionError(f"unhandled turn detection {td!r}")  # pragma: no cover - the schema is closed


def is_reasoning_model(model: str) -> bool:
    """Whether ``reasoning.effort`` applies. Azure deployment names that do not start with a model name
    never get it (the deployment could be any model)."""
    return model.startswith(REASONING_MODEL_PREFIXES)


def _transcription(settings: RealtimeSettings) -> dict[str, Any] | None:
    t = settings.transcription
    if t is None:
        return None
    out: dict[str, Any] = {"model": t.model}
    if t.language:
        out["language"] = t.language
    if t.prompt:
        out["prompt"] = t.prompt
    return out


def _tools(tools: Sequence[ToolSpec], mcp_tools: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    names = [t.name for t in tools]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"two tools are named {', '.join(dupes)}")
    labels = [str(t.get("server_label")) for t in mcp_tools]
    dupes = sorted({label for label in labels if labels.count(label) > 1})
    if dupes:
        raise ValueError(f"two MCP servers are labelled {', '.join(dupes)}")
    for t in mcp_tools:
        if t.get("type") != "mcp":
            raise ValueError(f"MCP tool {t.get('server_label')!r} must have type 'mcp'")
    return [t.to_realtime() for t in tools] + [dict(t) for t in mcp_tools]
