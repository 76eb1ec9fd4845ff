"""Typed Realtime server events: the wire JSON becomes one of these in ``parse_server_event`` and raw
dicts never reach the conversation core. Only what the speaker acts on is modelled; everything else
becomes ``Other`` (logged at debug, never a crash)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from speaker.realtime.kinds import FailureKind

# wire type tags (GA names)
SESSION_CREATED = "session.created"
SESSION_UPDATED = "session.updated"
ERROR = "error"
RESPONSE_CREATED = "response.created"
RESPONSE_DONE = "response.done"
AUDIO_DELTA = "response.output_audio.delta"
AUDIO_DONE = "response.output_audio.done"
TRANSCRIPT_DELTA = "response.output_audio_transcript.delta"
TRANSCRIPT_DONE = "response.output_audio_transcript.done"
TEXT_DELTA = "response.output_text.delta"
TEXT_DONE = "response.output_text.done"
OUTPUT_ITEM_ADDED = "response.output_item.added"
OUTPUT_ITEM_DONE = "response.output_item.done"
FUNCTION_ARGS_DONE = "response.function_call_arguments.done"
SPEECH_STARTED = "input_audio_buffer.speech_started"
SPEECH_STOPPED = "input_audio_buffer.speech_stopped"
INPUT_COMMITTED = "input_audio_buffer.committed"
INPUT_TRANSCRIPT_DONE = "conversation.item.input_audio_transcription.completed"
ITEM_TRUNCATED = "conversation.item.truncated"
ITEM_DONE = "conversation.item.done"
MCP_LIST_COMPLETED = "mcp_list_tools.completed"
MCP_LIST_FAILED = "mcp_list_tools.failed"
MCP_CALL_COMPLETED = "response.mcp_call.completed"
MCP_CALL_FAILED = "response.mcp_call.failed"
RATE_LIMITS = "rate_limits.updated"


@dataclass(frozen=True)
class SessionCreated:
    session_id: str | None
    model: str | None


@dataclass(frozen=True)
class SessionUpdated:
    pass


@dataclass(frozen=True)
class ServerError:
    type: str
    code: str | None
    message: str
    event_id: str | None = None
    """The client event that caused it, if the server said."""
    param: str | None = None

    @property
    def kind(self) -> FailureKind:
        """What this error means: fatal, retryable, session_expired, benign or request_error
        (see ``speaker.realtime.classify``)."""
        from speaker.realtime.kinds import error_kind

        return error_kind(self.code, self.type)


@dataclass(frozen=True)
class ResponseCreated:
    response_id: str


@dataclass(frozen=True)
class AudioDelta:
    response_id: str
    item_id: str
    content_index: int
    pcm: bytes
    """Decoded audio: pcm16 24 kHz mono."""


@dataclass(frozen=True)
class AudioDone:
    response_id: str
    item_id: str


@dataclass(frozen=True)
class TranscriptDone:
    response_id: str
    item_id: str
    transcript: str


@dataclass(frozen=True)
class FunctionCall:
    response_id: str
    item_id: str
    call_id: str
    name: str
    arguments: str
    """Raw JSON text as the model wrote it: validated by the tool layer, not here."""


@dataclass(frozen=True)
class Usage:
    text_in: int = 0
    text_cached: int = 0
    audio_in: int = 0
    audio_cached: int = 0
    text_out: int = 0
    audio_out: int = 0

    @property
    def total(self) -> int:
        return self.text_in + self.audio_in + self.text_out + self.audio_out

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(_astuple(self), _astuple(other), strict=True)))


def _astuple(u: Usage) -> tuple[int, ...]:
    return (u.text_in, u.text_cached, u.audio_in, u.audio_cached, u.text_out, u.audio_out)


@dataclass(frozen=True)
class ResponseDone:
    response_id: str
    status: str
    """completed, cancelled, failed or incomplete."""
    reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    function_calls: tuple[FunctionCall, ...] = ()
    """Function calls in this response's output (executed once the response is done)."""
    error: str | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class ServerSpeechStarted:
    item_id: str | None
    audio_start_ms: int


@dataclass(frozen=True)
class ServerSpeechStopped:
    item_id: str | None
    audio_end_ms: int


@dataclass(frozen=True)
class InputCommitted:
    """The input buffer became a user item (after our commit, or server VAD's)."""

    item_id: str


@dataclass(frozen=True)
class ItemTruncated:
    """The server cut an assistant item at what was really played (answer to our truncate)."""

    item_id: str
    audio_end_ms: int


@dataclass(frozen=True)
class InputTranscript:
    item_id: str
    transcript: str
    seconds: float = 0.0
    """Billed transcription duration, when the server reports it."""


@dataclass(frozen=True)
class McpEvent:
    """mcp_list_tools.* / response.mcp_call.* / approval requests: handled by the tool layer."""

    type: str
    item: dict[str, Any] | None = None
    item_id: str | None = None


@dataclass(frozen=True)
class Other:
    type: str


RealtimeEvent = (
    SessionCreated | SessionUpdated | ServerError | ResponseCreated | AudioDelta | AudioDone
    | TranscriptDone | FunctionCall | ResponseDone | ServerSpeechStarted | ServerSpeechStopped
    | InputTranscript | InputCommitted | ItemTruncated | McpEvent | Other
)


class ProtocolError(ValueError):
    """The server sent something that is not a valid GA event (logged, never fatal)."""


def _str(ev: dict[str, Any], key: str) -> str:
    value = ev.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"{ev.get('type')}: '{key}' missing or not a string")
    return value


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    i = _dict(raw.get("input_token_details"))
    c = _dict(i.get("cached_tokens_details"))
    o = _dict(raw.get("output_token_details"))

    def n(d: Any, k: str) -> int:
        v = d.get(k) if isinstance(d, dict) else None
        return int(v) if isinstance(v, (int, float)) else 0

    return Usage(
        text_in=n(i, "text_tokens"), text_cached=n(c, "text_tokens"),
        audio_in=n(i, "audio_tokens"), audio_cached=n(c, "audio_tokens"),
        text_out=n(o, "text_tokens"), audio_out=n(o, "audio_tokens"),
    )


def _function_call(response_id: str, item: dict[str, Any]) -> FunctionCall:
    return FunctionCall(response_id=response_id, item_id=str(item.get("id", "")),
                        call_id=_str(item, "call_id"), name=_str(item, "name"),
                        arguments=str(item.get("arguments") or ""))


def parse_server_event(ev: Any) -> RealtimeEvent:
    """Turn one decoded JSON server event into a typed event. Raises ProtocolError on malformed
    events of a type we act on (never another exception); unknown types become ``Other``."""
    if not isinstance(ev, dict):
        raise ProtocolError(f"an event must be a JSON object, not {type(ev).__name__}")
    kind = ev.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("event without a 'type'")
    try:
        return _parse(kind, ev)
    except ProtocolError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        # a field of the wrong JSON type (a list where an object belongs, null where a number belongs)
        raise ProtocolError(f"{kind}: malformed ({type(exc).__name__}: {exc})") from None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _parse(kind: str, ev: dict[str, Any]) -> RealtimeEvent:
    match kind:
        case "response.output_audio.delta":
            try:
                pcm = base64.b64decode(_str(ev, "delta"), validate=True)
            except binascii.Error as exc:
                raise ProtocolError(f"{kind}: delta is not base64: {exc}") from None
            return AudioDelta(_str(ev, "response_id"), _str(ev, "item_id"),
                              int(ev.get("content_index", 0)), pcm)
        case "response.output_audio.done":
            return AudioDone(_str(ev, "response_id"), _str(ev, "item_id"))
        case "response.output_audio_transcript.done" | "response.output_text.done":
            text = ev.get("transcript") if kind.endswith("transcript.done") else ev.get("text")
            return TranscriptDone(_str(ev, "response_id"), _str(ev, "item_id"), str(text or ""))
        case "response.created":
            return ResponseCreated(str(_dict(ev.get("response")).get("id", "")))
        case "response.done":
            resp = ev.get("response")
            if not isinstance(resp, dict):
                raise ProtocolError("response.done without a response")
            rid = str(resp.get("id", ""))
            details = _dict(resp.get("status_details"))
            err = details.get("error")
            calls = tuple(
                _function_call(rid, item) for item in _list(resp.get("output"))
                if isinstance(item, dict) and item.get("type") == "function_call"
            )
            return ResponseDone(
                response_id=rid, status=str(resp.get("status", "completed")),
                reason=details.get("reason"),
                usage=_usage(resp.get("usage")), function_calls=calls,
                error=(err.get("message") or err.get("code")) if isinstance(err, dict) else None,
                metadata=resp.get("metadata") if isinstance(resp.get("metadata"), dict) else None,
            )
        case "response.function_call_arguments.done":
            return FunctionCall(_str(ev, "response_id"), _str(ev, "item_id"), _str(ev, "call_id"),
                                _str(ev, "name"), _str(ev, "arguments"))
        case "input_audio_buffer.speech_started":
            return ServerSpeechStarted(ev.get("item_id"), int(ev.get("audio_start_ms", 0)))
        case "input_audio_buffer.speech_stopped":
            return ServerSpeechStopped(ev.get("item_id"), int(ev.get("audio_end_ms", 0)))
        case "conversation.item.input_audio_transcription.completed":
            usage = _dict(ev.get("usage"))
            seconds = float(usage.get("seconds") or 0.0) if usage.get("type", "duration") == "duration" else 0.0
            return InputTranscript(_str(ev, "item_id"), str(ev.get("transcript", "")), seconds)
        case "session.created":
            sess = _dict(ev.get("session"))
            return SessionCreated(sess.get("id"), sess.get("model"))
        case "session.updated":
            return SessionUpdated()
        case "error":
            err = ev.get("error")
            if not isinstance(err, dict):
                raise ProtocolError("error event without an error object")
            code = err.get("code")
            param = err.get("param")
            return ServerError(str(err.get("type") or "unknown"), str(code) if code is not None else None,
                               str(err.get("message") or ""), err.get("event_id"),
                               str(param) if param is not None else None)
        case "input_audio_buffer.committed":
            return InputCommitted(_str(ev, "item_id"))
        case "conversation.item.truncated":
            return ItemTruncated(_str(ev, "item_id"), int(ev.get("audio_end_ms", 0)))
        case "conversation.item.done" | "response.output_item.done":
            item = ev.get("item")
            if isinstance(item, dict) and str(item.get("type", "")).startswith("mcp"):
                return McpEvent(kind, item=item, item_id=item.get("id"))
            return Other(kind)
        case _ if kind.startswith(("mcp_list_tools.", "response.mcp_call")):
            return McpEvent(kind, item_id=ev.get("item_id"))
        case _:
            return Other(kind)
