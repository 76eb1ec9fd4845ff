"""Typed Realtime server events: the wire JSON becomes one of these in ``parse_server_event`` and raw
dicts never reach the conversation core. Only what the speaker acts on is modelled; everything else
becomes ``Other`` (logged at debug, never a crash)."""

from __future__ import annotations

import base64
import binascii
import math
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

STATUSES = frozenset({"completed", "cancelled", "failed", "incomplete"})


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
class OutputItemAdded:
    """``response.output_item.added``: the response announces an item (a message or a function call).
    The client's sequence guard consumes it; the core does not need it."""

    response_id: str
    item_id: str
    item_type: str
    call_id: str | None = None


@dataclass(frozen=True)
class Other:
    type: str


RealtimeEvent = (
    SessionCreated | SessionUpdated | ServerError | ResponseCreated | AudioDelta | AudioDone
    | TranscriptDone | FunctionCall | ResponseDone | ServerSpeechStarted | ServerSpeechStopped
    | InputTranscript | InputCommitted | ItemTruncated | McpEvent | OutputItemAdded | Other
)



class ProtocolError(ValueError):
    """The server sent something that is not a valid GA event (logged, never fatal)."""


# ---------------------------------------------------------------------------- limits of a sane event
# Real values are far inside these. Past them an event is either dropped (ids, numbers the speaker acts
# on) or the field is cut (text that is only shown or published): see ``parse_server_event``.
MAX_ID = 256
"""Ids (``resp_…``, ``item_…``, ``call_…``) are about 30 characters."""
MAX_NAME = 128
"""A function name (the API allows 64)."""
MAX_TEXT = 8_000
"""A transcript or text part: a spoken reply of several minutes. Longer text is cut here."""
MAX_MESSAGE = 1_000
"""An error message or code, a status reason: cut here."""
MAX_ARGUMENTS = 64 * 1024
"""A function call's JSON arguments. Longer: the call is dropped (cut JSON would not parse anyway)."""
MAX_AUDIO_B64 = 1024 * 1024
"""One audio delta: about 11 s of audio (the service sends about 0.1 s per delta)."""
MAX_MS = 24 * 3600 * 1000
"""Audio positions in ms: a session lasts at most an hour."""
MAX_TOKENS = 10**9
"""A token count in ``usage``."""
MAX_INDEX = 10_000
"""``content_index`` and friends."""


def parse_server_event(ev: Any, fixes: list[str] | None = None) -> RealtimeEvent:
    """Turn one decoded JSON server event into a typed event. Total: raises ProtocolError for an event
    that must be dropped (malformed, out of range, or referring to nothing), never another exception;
    unknown types become ``Other``. A field that is only informational and obviously repairable (a
    too-long transcript, an impossible token count in ``usage``) is repaired instead and named in
    ``fixes`` (when given), so the event still does its job (a ``response.done`` must end its reply)."""
    if not isinstance(ev, dict):
        raise ProtocolError(f"an event must be a JSON object, not {type(ev).__name__}")
    kind = ev.get("type")
    if not isinstance(kind, str) or not kind or len(kind) > MAX_NAME:
        raise ProtocolError("event without a valid 'type'")
    try:
        return _Decoder(kind, fixes if fixes is not None else []).parse(ev)
    except ProtocolError:
        raise
    except Exception as exc:  # a shape no rule foresaw: still only a dropped event
        raise ProtocolError(f"{kind}: malformed ({type(exc).__name__})") from None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class _Decoder:
    def __init__(self, kind: str, fixes: list[str]) -> None:
        self.kind = kind
        self.fixes = fixes

    def bad(self, what: str) -> ProtocolError:
        return ProtocolError(f"{self.kind}: {what}")

    # ------------------------------------------------------------------ fields

    def id(self, d: dict[str, Any], key: str) -> str:
        """A required id: a non-empty string of sane length."""
        value = d.get(key)
        if not isinstance(value, str) or not value:
            raise self.bad(f"'{key}' missing or not a string")
        if len(value) > MAX_ID:
            raise self.bad(f"'{key}' is {len(value)} characters long")
        return value

    def opt_id(self, d: dict[str, Any], key: str) -> str | None:
        return None if d.get(key) is None else self.id(d, key)

    def number(self, d: dict[str, Any], key: str, hi: int) -> int:
        """A non-negative integer up to ``hi`` (a whole float is accepted); absent or null is 0."""
        value = d.get(key)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.bad(f"'{key}' is not a number")
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            raise self.bad(f"'{key}' is {value!r}")
        if not 0 <= value <= hi:
            raise self.bad(f"'{key}' is out of range")
        return int(value)

    def text(self, d: dict[str, Any], key: str, cap: int) -> str:
        """Free text; absent or null is empty; longer than ``cap`` is cut (and noted)."""
        value = d.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.bad(f"'{key}' is not a string")
        if len(value) > cap:
            self.fixes.append(f"'{key}' cut from {len(value)} to {cap} characters")
            return value[:cap]
        return value

    def opt_text(self, d: dict[str, Any], key: str, cap: int) -> str | None:
        return None if d.get(key) is None else self.text(d, key, cap)

    def pcm(self, d: dict[str, Any]) -> bytes:
        b64 = d.get("delta")
        if not isinstance(b64, str):
            raise self.bad("'delta' missing or not a string")
        if len(b64) > MAX_AUDIO_B64:
            raise self.bad(f"an audio delta of {len(b64)} base64 characters")
        try:
            pcm = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise self.bad("'delta' is not base64") from None
        if len(pcm) % 2:
            # we cannot tell where the byte went missing: a misaligned delta would play as full-scale
            # noise, a dropped one is a short gap
            raise self.bad(f"{len(pcm)} bytes of audio is not whole 16-bit samples")
        return pcm

    def usage(self, raw: Any) -> Usage:
        """Token counts (only used for the cost estimate): one impossible count voids the block."""
        if not isinstance(raw, dict):
            return Usage()
        i = _dict(raw.get("input_token_details"))
        c = _dict(i.get("cached_tokens_details"))
        o = _dict(raw.get("output_token_details"))
        try:
            return Usage(*(self.number(d, key, MAX_TOKENS) for d, key in (
                (i, "text_tokens"), (c, "text_tokens"), (i, "audio_tokens"), (c, "audio_tokens"),
                (o, "text_tokens"), (o, "audio_tokens"))))
        except ProtocolError as exc:
            self.fixes.append(f"usage ignored ({exc})")
            return Usage()

    def function_call(self, response_id: str, d: dict[str, Any], item_id: str) -> FunctionCall:
        name = self.id(d, "name")
        if len(name) > MAX_NAME:
            raise self.bad(f"a function name of {len(name)} characters")
        arguments = d.get("arguments")
        if arguments is None:
            arguments = ""
        if not isinstance(arguments, str) or len(arguments) > MAX_ARGUMENTS:
            raise self.bad("'arguments' not a string or too long")
        return FunctionCall(response_id, item_id, self.id(d, "call_id"), name, arguments)

    def metadata(self, raw: Any) -> dict[str, str] | None:
        if not isinstance(raw, dict):
            return None
        clean = {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)
                 and len(k) <= MAX_NAME and len(v) <= MAX_MESSAGE}
        if len(clean) != len(raw):
            self.fixes.append("metadata entries dropped")
        return clean

    # ------------------------------------------------------------------ events

    def parse(self, ev: dict[str, Any]) -> RealtimeEvent:
        kind = self.kind
        match kind:
            case "response.output_audio.delta":
                return AudioDelta(self.id(ev, "response_id"), self.id(ev, "item_id"),
                                  self.number(ev, "content_index", MAX_INDEX), self.pcm(ev))
            case "response.output_audio.done":
                return AudioDone(self.id(ev, "response_id"), self.id(ev, "item_id"))
            case "response.output_audio_transcript.done" | "response.output_text.done":
                key = "transcript" if kind.endswith("transcript.done") else "text"
                return TranscriptDone(self.id(ev, "response_id"), self.id(ev, "item_id"),
                                      self.text(ev, key, MAX_TEXT))
            case "response.created":
                return ResponseCreated(self.id(_dict(ev.get("response")), "id"))
            case "response.done":
                return self.response_done(ev)
            case "response.output_item.added":
                item = _dict(ev.get("item"))
                item_type = self.id(item, "type")
                call_id = self.id(item, "call_id") if item_type == "function_call" else None
                return OutputItemAdded(self.id(ev, "response_id"), self.id(item, "id"), item_type, call_id)
            case "response.function_call_arguments.done":
                return self.function_call(self.id(ev, "response_id"), ev, self.id(ev, "item_id"))
            case "input_audio_buffer.speech_started":
                return ServerSpeechStarted(self.opt_id(ev, "item_id"), self.number(ev, "audio_start_ms", MAX_MS))
            case "input_audio_buffer.speech_stopped":
                return ServerSpeechStopped(self.opt_id(ev, "item_id"), self.number(ev, "audio_end_ms", MAX_MS))
            case "conversation.item.input_audio_transcription.completed":
                usage = _dict(ev.get("usage"))
                seconds = 0.0
                if usage.get("type", "duration") == "duration":
                    raw = usage.get("seconds")
                    if isinstance(raw, (int, float)) and not isinstance(raw, bool) \
                            and math.isfinite(raw) and 0 <= raw <= MAX_MS / 1000:
                        seconds = float(raw)
                    elif raw is not None:
                        self.fixes.append("transcription seconds ignored")
                return InputTranscript(self.id(ev, "item_id"), self.text(ev, "transcript", MAX_TEXT), seconds)
            case "session.created":
                sess = _dict(ev.get("session"))
                model = sess.get("model")
                return SessionCreated(self.opt_id(sess, "id"),
                                      model if isinstance(model, str) and len(model) <= MAX_NAME else None)
            case "session.updated":
                return SessionUpdated()
            case "error":
                err = ev.get("error")
                if not isinstance(err, dict):
                    raise self.bad("no error object")
                code, param, etype = err.get("code"), err.get("param"), err.get("type")
                return ServerError(
                    str(etype)[:MAX_NAME] if isinstance(etype, str) and etype else "unknown",
                    str(code)[:MAX_NAME] if isinstance(code, (str, int)) and not isinstance(code, bool) else None,
                    self.text(err, "message", MAX_MESSAGE) if isinstance(err.get("message"), str) else "",
                    err["event_id"][:MAX_ID] if isinstance(err.get("event_id"), str) else None,
                    str(param)[:MAX_NAME] if isinstance(param, str) else None)
            case "input_audio_buffer.committed":
                return InputCommitted(self.id(ev, "item_id"))
            case "conversation.item.truncated":
                return ItemTruncated(self.id(ev, "item_id"), self.number(ev, "audio_end_ms", MAX_MS))
            case "conversation.item.done" | "response.output_item.done":
                done = _dict(ev.get("item"))
                if isinstance(done.get("type"), str) and done["type"].startswith("mcp"):
                    return McpEvent(kind, item=done, item_id=self.opt_id(done, "id"))
                return Other(kind)
            case _ if kind.startswith(("mcp_list_tools.", "response.mcp_call")):
                return McpEvent(kind, item_id=self.opt_id(ev, "item_id"))
            case _:
                return Other(kind)

    def response_done(self, ev: dict[str, Any]) -> ResponseDone:
        resp = ev.get("response")
        if not isinstance(resp, dict):
            raise self.bad("no response object")
        rid = self.id(resp, "id")
        status = resp.get("status", "completed")
        if status not in STATUSES:
            # a reply must still end: an unknown status counts as an incomplete response
            self.fixes.append(f"status {str(status)[:40]!r} read as 'incomplete'")
            status = "incomplete"
        details = _dict(resp.get("status_details"))
        err = _dict(details.get("error"))
        error = self.opt_text(err, "message", MAX_MESSAGE) if isinstance(err.get("message"), str) else None
        if not error and isinstance(err.get("code"), str):
            error = err["code"][:MAX_MESSAGE]
        calls = []
        for item in _list(resp.get("output")):
            if isinstance(item, dict) and item.get("type") == "function_call":
                try:
                    calls.append(self.function_call(rid, item, self.id(item, "id")))
                except ProtocolError as exc:
                    self.fixes.append(f"function call dropped ({exc})")
        reason = details.get("reason")
        return ResponseDone(
            response_id=rid, status=status,
            reason=reason[:MAX_MESSAGE] if isinstance(reason, str) else None,
            usage=self.usage(resp.get("usage")), function_calls=tuple(calls),
            error=error or None, metadata=self.metadata(resp.get("metadata")),
        )
