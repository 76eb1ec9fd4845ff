"""What the emulator says and how it misbehaves: a small declarative script.

A :class:`Script` is a list of :class:`Turn`\\ s, answered in order, one per response the client asks
for (``response.create``, or server VAD's automatic response). A turn replies with speech, or calls a
function and, once the client sent the ``function_call_output`` and a new ``response.create``, speaks
``then``. When the turns run out the emulator says :data:`~realtime_emulator.voice.GENERIC_PHRASE`.
Turns carry on across reconnects: a second connection continues where the first stopped.

:class:`Fault`\\ s inject failures, on a turn or on connecting. A fault fires once; a turn whose fault
ended the response early (error, drop, close, stall, session expiry) is played normally the next time a
response is asked for, so a client that reconnects and retries gets its answer. The misbehaviour faults
for robustness tests: :meth:`Fault.garbage` (deliberately invalid frames mid-reply, then the reply goes
on), :meth:`Fault.drop` / :meth:`Fault.session_expired` with ``after_deltas`` (cut mid-reply), and
:meth:`Fault.expire_in_follow_up` (the reply plays; the session expires when the follow-up comes). The
standalone emulator takes the same faults as ``--fault SPEC`` (:func:`parse_fault`).

    Script(turns=[
        Turn(heard="turn on the kitchen light",
             call=FunctionCallSpec("zigbee_light_set", {"device": "kitchen_light", "state": "ON"}),
             then=Reply("The kitchen light is on.")),
        Turn(reply=Reply("It is ten past three."), fault=Fault.drop(after_deltas=3)),
    ], on_connect=[None, Fault.delay(0.5)])
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from realtime_emulator.garbage import VARIANTS
from realtime_emulator.voice import GENERIC_PHRASE

FaultKind = Literal["error", "response_failed", "drop", "close", "session_expired", "stall", "delay", "garbage"]

SESSION_EXPIRED_MESSAGE = "Your session hit the maximum duration of 60 minutes."


@dataclass(frozen=True)
class Reply:
    """Something the assistant says. The transcript is ``text``; the audio is ``audio`` (a 16-bit WAV,
    any rate) if given, else the bundled recording of the text, else synthesized speech-like audio."""

    text: str
    audio: Path | None = None


@dataclass(frozen=True)
class FunctionCallSpec:
    """A function call the model makes. ``arguments`` is JSON-encoded unless it is a string already."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    call_id: str | None = None
    """Fixed call id (default: a fresh ``call_…``)."""

    @property
    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(dict(self.arguments))


@dataclass(frozen=True)
class McpApprovalSpec:
    """A remote MCP tool call that needs the user's approval: the response carries an
    ``mcp_approval_request`` item. Once the client created its ``mcp_approval_response`` (checked:
    it must answer this request, once) and asked for a response, an approval plays an ``mcp_call`` item
    with ``output`` and then the turn's ``then``; a refusal plays ``denied``. The emulator never
    contacts the server."""

    server_label: str
    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    output: str = '{"ok": true}'
    denied: Reply = Reply("Okay, I did not do it.")
    request_id: str | None = None
    """Fixed request id (default: a fresh ``mcpr_…``)."""

    @property
    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(dict(self.arguments))


@dataclass(frozen=True)
class Fault:
    """A failure to inject. Build with the class methods; ``after_deltas`` (where allowed) lets the
    response stream that many audio deltas first, so the failure hits mid-reply."""

    kind: FaultKind
    seconds: float | None = None
    code: str | None = None
    message: str = ""
    error_type: str = "invalid_request_error"
    close_code: int | None = None
    reason: str = ""
    after_deltas: int | None = None
    variants: tuple[str, ...] = ()
    """``garbage``: which hostile frames to send (see :mod:`realtime_emulator.garbage`)."""
    follow_up: bool = False
    """``session_expired``: wait for the follow-up instead of cutting the reply (see :meth:`expire_in_follow_up`)."""

    def __post_init__(self) -> None:
        if self.close_code is not None and not (self.close_code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                                                       1011, 1012, 1013, 1014)
                                                 or 3000 <= self.close_code <= 4999):
            raise ValueError(f"close code {self.close_code} cannot be sent in a close frame "
                             "(use Fault.drop() for an abnormal closure)")
        if self.seconds is not None and self.seconds < 0:
            raise ValueError("seconds must not be negative")
        if self.after_deltas is not None and self.after_deltas < 0:
            raise ValueError("after_deltas must not be negative")
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ValueError(f"unknown garbage variant {unknown[0]!r} (known: {', '.join(VARIANTS)})")

    @classmethod
    def error(cls, code: str, message: str, type: str = "invalid_request_error") -> Fault:
        """An ``error`` event instead of the response (on connect: right after ``session.created``)."""
        return cls("error", code=code, message=message, error_type=type)

    @classmethod
    def response_failed(cls, code: str = "server_error", message: str = "The server had an error.",
                        type: str = "server_error", *, after_deltas: int | None = None) -> Fault:
        """The response ends with ``response.done`` status ``failed`` and this error in its details."""
        return cls("response_failed", code=code, message=message, error_type=type, after_deltas=after_deltas)

    @classmethod
    def drop(cls, *, after_deltas: int | None = None) -> Fault:
        """Abort the TCP connection without a close frame (the client sees 1006)."""
        return cls("drop", after_deltas=after_deltas)

    @classmethod
    def close(cls, code: int = 1011, reason: str = "", *, after_deltas: int | None = None) -> Fault:
        """Close the WebSocket with this code and reason (e.g. 4000, 1011)."""
        return cls("close", close_code=code, reason=reason, after_deltas=after_deltas)

    @classmethod
    def session_expired(cls, *, after_deltas: int | None = None, close_code: int = 1000) -> Fault:
        """The 60-minute cap: an ``error`` event with code ``session_expired``, then the socket closes."""
        return cls("session_expired", code="session_expired", message=SESSION_EXPIRED_MESSAGE,
                   close_code=close_code, after_deltas=after_deltas)

    @classmethod
    def expire_in_follow_up(cls, after_s: float | None = None, *, close_code: int = 1000) -> Fault:
        """The 60-minute cap landing in the follow-up window: the turn's reply plays to the end (for a
        function-call turn: the reply after the call), then the session expires (``error``
        ``session_expired``, then close) as soon as the client sends the follow-up (an
        ``input_audio_buffer.append`` or ``commit``, or a ``response.create``; it is not acted on), or
        ``after_s`` seconds after that ``response.done`` if that comes first."""
        return cls("session_expired", code="session_expired", message=SESSION_EXPIRED_MESSAGE,
                   close_code=close_code, seconds=after_s, follow_up=True)

    @classmethod
    def garbage(cls, *variants: str, after_deltas: int = 1) -> Fault:
        """INJECTED hostile frames in the middle of the reply, after ``after_deltas`` audio deltas (0:
        before the first), then the reply goes on normally. ``variants`` picks from
        :data:`realtime_emulator.garbage.VARIANTS` (default: all, in that order). These frames bypass the
        emulator's validation on purpose and are listed in ``Emulator.injected``."""
        return cls("garbage", after_deltas=after_deltas, variants=variants or tuple(VARIANTS))

    @classmethod
    def stall(cls, seconds: float | None = None) -> Fault:
        """Keep the connection open and read everything, but send nothing for ``seconds`` (None: ever).
        On connect the stall comes before ``session.created``; on a turn, before ``response.created``."""
        return cls("stall", seconds=seconds)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Start late: ``session.created`` (on connect) or the turn's response comes ``seconds`` later.
        Unlike a stall, other events (VAD, errors, acknowledgements) keep flowing meanwhile."""
        return cls("delay", seconds=seconds)

    @property
    def ends_connection(self) -> bool:
        return self.kind in ("drop", "close", "session_expired")

    @property
    def replaces_response(self) -> bool:
        """Fires instead of the response (no ``after_deltas``), not inside it or after it."""
        return self.after_deltas is None and not self.follow_up

    @property
    def cuts_turn(self) -> bool:
        """The reply does not reach its end, so the turn plays again on the next response."""
        return (self.ends_connection and not self.follow_up) or self.kind == "response_failed"


@dataclass(frozen=True)
class Turn:
    """One user turn and the assistant's answer.

    ``heard`` is the input transcription (sent when the session asks for transcription). ``reply`` is
    spoken; ``call`` makes one function call (or several, in one response) after the reply if both are
    given; ``then`` is spoken after the client returned the call's output. A turn with neither reply nor
    call says the generic phrase."""

    heard: str = ""
    reply: Reply | None = None
    call: FunctionCallSpec | Sequence[FunctionCallSpec] | None = None
    then: Reply | None = None
    fault: Fault | None = None
    preamble: Reply | None = None
    """gpt-realtime-2 style: a first assistant message item in the same response, before ``reply``
    (each is its own item with its own audio and transcript)."""
    mcp: McpApprovalSpec | None = None
    """A remote MCP call that needs approval, after the reply (``then`` is spoken once it is approved)."""

    @property
    def calls(self) -> tuple[FunctionCallSpec, ...]:
        if self.call is None:
            return ()
        if isinstance(self.call, FunctionCallSpec):
            return (self.call,)
        return tuple(self.call)

    def __post_init__(self) -> None:
        if self.then is not None and self.call is None and self.mcp is None:
            raise ValueError("Turn.then is spoken after a function call or an approved MCP call; give `call` "
                             "or `mcp` too (or use `reply`)")


@dataclass(frozen=True)
class Script:
    """The turns, in order, and the faults for the first connections (``on_connect[i]`` applies to
    connection ``i``; None or a short list means no fault)."""

    turns: Sequence[Turn] = ()
    on_connect: Sequence[Fault | None] = ()
    fallback: Reply = Reply(GENERIC_PHRASE)
    """Said when the turns are used up (and for out-of-band responses)."""


class ScriptCursor:
    """Where the conversation is in a script, shared by all connections of one emulator."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.next_turn = 0
        self._fired: set[int] = set()

    def peek(self) -> Turn | None:
        turns = self.script.turns
        return turns[self.next_turn] if self.next_turn < len(turns) else None

    def take_fault(self) -> Fault | None:
        """The current turn's fault, once."""
        turn = self.peek()
        if turn is None or turn.fault is None or self.next_turn in self._fired:
            return None
        self._fired.add(self.next_turn)
        return turn.fault

    def advance(self) -> None:
        if self.next_turn < len(self.script.turns):
            self.next_turn += 1

    def connect_fault(self, connection_index: int) -> Fault | None:
        faults = self.script.on_connect
        return faults[connection_index] if connection_index < len(faults) else None


FAULT_SPECS = """\
garbage[:N[:VARIANT,…]]  hostile frames after N audio deltas (default 1; all variants unless named)
drop[:N]                 abort the TCP connection (after N deltas; none: instead of the response)
close[:CODE[:N]]         close with CODE (default 1011), after N deltas
expire[:N]               session_expired mid-reply after N deltas (none: instead of the response)
expire-follow-up[:S]     session_expired when the follow-up comes (or S s after the reply)
error:CODE               an error event with CODE instead of the response
failed[:N]               response.done status failed (after N deltas)
stall[:S]                send nothing for S s (none: ever)
delay:S                  the response starts S s late
none                     no fault on this turn"""
"""The ``--fault`` specs of the standalone emulator (:func:`parse_fault`)."""


def parse_fault(spec: str) -> Fault | None:
    """A fault from a short spec (see :data:`FAULT_SPECS`); ValueError names what is wrong."""
    kind, _, rest = spec.strip().partition(":")
    args = rest.split(":") if rest else []

    def number(i: int, cast: type[int] | type[float] = int) -> Any:
        if len(args) <= i or args[i] == "":
            return None
        try:
            return cast(args[i])
        except ValueError:
            raise ValueError(f"--fault {spec}: {args[i]!r} is not a number") from None

    match kind:
        case "none" | "-":
            return None
        case "garbage":
            variants = tuple(v for v in args[1].split(",") if v) if len(args) > 1 else ()
            after = number(0)
            return Fault.garbage(*variants, after_deltas=1 if after is None else after)
        case "drop":
            return Fault.drop(after_deltas=number(0))
        case "close":
            code = number(0)
            return Fault.close(1011 if code is None else code, after_deltas=number(1))
        case "expire":
            return Fault.session_expired(after_deltas=number(0))
        case "expire-follow-up":
            return Fault.expire_in_follow_up(number(0, float))
        case "error" if args:
            return Fault.error(args[0], f"Injected error {args[0]} (emulator fault).")
        case "failed":
            return Fault.response_failed(after_deltas=number(0))
        case "stall":
            return Fault.stall(number(0, float))
        case "delay" if args:
            return Fault.delay(number(0, float))
    raise ValueError(f"--fault {spec}: not a fault spec; one of:\n{FAULT_SPECS}")
