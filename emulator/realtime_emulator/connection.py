"""One emulated Realtime session on one WebSocket: reads and validates client events, keeps the
session config, input buffer and conversation, runs server VAD and responses, injects faults.

Every outgoing event passes :func:`validate_server_event` before it is queued; one writer task sends
the queue in order (events, and the pause/close/abort controls faults need). The one exception is
:meth:`Connection.inject`: a ``garbage`` fault's deliberately invalid frames, sent raw and recorded apart.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from realtime_emulator.conversation import Conversation, Item, ItemError, public, transcription_usage
from realtime_emulator.errors import BETA_MESSAGE, MIN_COMMIT_MS, commit_empty, rejection
from realtime_emulator.inputbuffer import InputBuffer
from realtime_emulator.mcp import Approvals
from realtime_emulator.record import ConnectionStats, Recorder
from realtime_emulator.response import Output, Plan, ResponseRun
from realtime_emulator.script import Fault, ScriptCursor, Turn
from realtime_emulator.session import SessionError, default_session, merge_session, new_id, turn_detection
from realtime_emulator.vad import SpeechStarted, SpeechStopped
from realtime_emulator.validate import ValidationFailure, validate_client_event, validate_server_event

log = logging.getLogger(__name__)

FOLLOW_UP_EVENTS = frozenset({"input_audio_buffer.append", "input_audio_buffer.commit", "response.create"})
"""What a client sends when the user follows up (``Fault.expire_in_follow_up`` fires on the first)."""



class EmulatorBug(AssertionError):
    """The emulator built an event the openai SDK types reject: a bug in the emulator, never the client."""


@dataclass(frozen=True)
class Options:
    speed: float
    """How much faster than real time reply audio is streamed (the service also runs ahead)."""
    max_session_s: float
    """The session cap (the service's is 60 minutes): then ``session_expired`` and close."""


@dataclass(frozen=True)
class _Pause:
    seconds: float | None


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class _Abort:
    pass


@dataclass(frozen=True)
class _Raw:
    """An injected frame: sent as it is, never validated."""

    text: str


_Outgoing = dict[str, Any] | _Pause | _Close | _Abort | _Raw


class Connection:
    def __init__(self, ws: ServerConnection, stats: ConnectionStats, recorder: Recorder, cursor: ScriptCursor,
                 options: Options) -> None:
        self.ws = ws
        self.stats = stats
        self.index = stats.index
        self.recorder = recorder
        self.cursor = cursor
        self.options = options
        expires_at = math.ceil(time.time() + options.max_session_s)
        self.session = default_session(stats.model or "", new_id("sess"), expires_at)
        self.conversation_id = new_id("conv")
        self.conv = Conversation()
        self.audio_sent = False
        self.active: ResponseRun | None = None
        """The response writing to the default conversation, if any."""
        self._runs: dict[ResponseRun, asyncio.Task[None]] = {}
        self._out: asyncio.Queue[_Outgoing] = asyncio.Queue()
        self._tg: asyncio.TaskGroup | None = None
        self._terminating = False
        self._closing_socket = False
        self.buffer = InputBuffer()
        self._vad_item: str | None = None
        """The id server VAD gave the user item it is hearing (speech started, not yet committed)."""
        # function calls of the current turn: call_id -> output received?
        self._calls: dict[str, bool] = {}
        self._calls_turn: Turn | None = None
        self._expiry: Fault | None = None
        """A follow-up expiry armed after the turn's reply: fires on the client's next turn."""
        self._expiry_timer: asyncio.Task[None] | None = None
        self._deferred_expiry: Fault | None = None
        self.approvals = Approvals()
        """A follow-up expiry on a function-call turn, waiting for the reply after the call."""
        self._configure_vad()

    # ----------------------------------------------------------------- lifetime

    async def serve(self, *, beta: bool) -> None:
        """Run until the socket closes. Every task is owned by this connection's task group."""
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            writer = tg.create_task(self._write_loop(), name=f"emulator-{self.index}-writer")
            timer = tg.create_task(self._session_timer(), name=f"emulator-{self.index}-session-cap")
            try:
                if beta:
                    self.error("beta_api_shape_disabled", BETA_MESSAGE)
                    self._out.put_nowait(_Close(4000, "invalid_request_error.beta_api_shape_disabled"))
                    self._terminating = True
                else:
                    self._open()
                await self._read_loop()
            finally:
                self._terminating = True
                for run, task in list(self._runs.items()):
                    run.stop()
                    task.cancel()
                timer.cancel()
                if self._expiry_timer is not None:
                    self._expiry_timer.cancel()
                if self._closing_socket and not writer.done():
                    # a close handshake is in flight: let it finish (bounded), not cut it
                    try:
                        async with asyncio.timeout(2.0):
                            await asyncio.shield(writer)
                    except TimeoutError:
                        pass
                writer.cancel()

    def _open(self) -> None:
        fault = self.cursor.connect_fault(self.index)
        if fault is not None:
            log.info("[emulator] connection %d: fault on connect: %s", self.index, fault.kind)
        if fault is not None and fault.ends_connection:
            self.terminate(fault)
            return
        if fault is not None and fault.kind in ("stall", "delay"):
            self._out.put_nowait(_Pause(fault.seconds))
        self.send({"type": "session.created", "session": self.session})
        if fault is not None and fault.kind == "error":
            self.error(fault.code, fault.message, error_type=fault.error_type)

    async def _session_timer(self) -> None:
        await asyncio.sleep(self.options.max_session_s)
        log.info("[emulator] connection %d: session cap of %.0f s reached", self.index, self.options.max_session_s)
        self.terminate(Fault.session_expired())

    def terminate(self, fault: Fault) -> None:
        """End the connection the way ``fault`` says (error first for session expiry)."""
        if self._terminating:
            return
        if fault.kind == "session_expired":
            self.error("session_expired", fault.message)
        self._terminating = True
        for run in self._runs:
            run.stop()
        if fault.kind == "drop":
            self._out.put_nowait(_Abort())
        else:
            self._out.put_nowait(_Close(fault.close_code or 1000, fault.reason))

    def arm_expiry(self, fault: Fault, *, after_call: bool) -> None:
        """The turn's reply is done: expire at the client's next turn (or after ``fault.seconds``).
        ``after_call``: this response ended in a function call, so wait for the reply after it."""
        if after_call:
            self._deferred_expiry = fault
            return
        self._expiry = fault
        log.info("[emulator] connection %d: session expiry armed for the follow-up", self.index)
        if fault.seconds is not None and self._tg is not None:
            self._expiry_timer = self._tg.create_task(self._expire_later(fault.seconds),
                                                      name=f"emulator-{self.index}-follow-up-expiry")

    async def _expire_later(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self._expiry is not None:
            self.terminate(self._expiry)

    # ----------------------------------------------------------------- output

    def send(self, event: dict[str, Any]) -> None:
        """Validate and queue one server event (nothing is queued once the connection is ending)."""
        if self._terminating:
            return
        event = {"event_id": new_id("event"), **event}
        try:
            validate_server_event(event)
        except ValidationFailure as failure:
            self.recorder.violations.append(failure)
            log.error("[emulator] BUG: built an invalid server event: %s", failure)
            raise EmulatorBug(str(failure)) from failure
        self._out.put_nowait(event)

    def inject(self, variant: str, frames: list[str]) -> None:
        """Send a ``garbage`` fault's frames raw, bypassing validation, and record them as injected."""
        if self._terminating:
            return
        log.warning("[emulator] FAULT INJECTION: %d deliberately invalid frame(s) of kind %s (not validated)",
                    len(frames), variant)
        for text in frames:
            self._out.put_nowait(_Raw(text))

    def error(self, code: str | None, message: str, *, error_type: str = "invalid_request_error",
              param: str | None = None, event_id: str | None = None) -> None:
        self.send({"type": "error", "error": {"type": error_type, "code": code, "message": message,
                                              "param": param, "event_id": event_id}})

    async def _write_loop(self) -> None:
        while True:
            item = await self._out.get()
            if isinstance(item, _Pause):
                log.info("[emulator] connection %d: stalling %s", self.index,
                         "forever" if item.seconds is None else f"{item.seconds:.2f} s")
                if item.seconds is None:
                    await asyncio.Event().wait()
                await asyncio.sleep(item.seconds or 0.0)
            elif isinstance(item, _Close):
                log.info("[emulator] connection %d: closing with %d %s", self.index, item.code, item.reason)
                self._closing_socket = True
                await self.ws.close(item.code, item.reason)
                return
            elif isinstance(item, _Abort):
                log.info("[emulator] connection %d: dropping the TCP connection", self.index)
                self.ws.transport.abort()
                return
            elif isinstance(item, _Raw):
                try:
                    await self.ws.send(item.text)
                except ConnectionClosed:
                    return
                self.recorder.note_injected(self.index, item.text)
            else:
                try:
                    await self.ws.send(json.dumps(item))
                except ConnectionClosed:
                    return
                self.recorder.note(self.index, "sent", item)

    # ----------------------------------------------------------------- input

    async def _read_loop(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    self.error("invalid_event", "Binary frames are not supported; send JSON text events.")
                    continue
                try:
                    event = json.loads(message)
                except json.JSONDecodeError as exc:
                    self.error("invalid_json", f"The event is not valid JSON: {exc}")
                    continue
                try:
                    validate_client_event(event)
                except ValidationFailure as failure:
                    self.recorder.violations.append(failure)
                    self.recorder.changed()
                    log.warning("[emulator] connection %d: %s", self.index, failure)
                    self._reject(event, failure)
                    continue
                self.recorder.note(self.index, "received", event)
                if not self._terminating:
                    await self._dispatch(event)
        except ConnectionClosed:
            pass

    def _reject(self, event: Any, failure: ValidationFailure) -> None:
        """Answer an invalid event with an error shaped like the service's."""
        event_id = event.get("event_id") if isinstance(event, dict) else None
        code, message, param = rejection(failure)
        self.error(code, message, param=param, event_id=event_id if isinstance(event_id, str) else None)

    async def _dispatch(self, event: dict[str, Any]) -> None:
        event_id = event.get("event_id")
        if self._expiry is not None and event["type"] in FOLLOW_UP_EVENTS:
            log.info("[emulator] connection %d: the follow-up meets an expired session", self.index)
            self.terminate(self._expiry)
            return
        match event["type"]:
            case "session.update":
                self._session_update(event["session"], event_id)
            case "input_audio_buffer.append":
                await self._append(base64.b64decode(event["audio"]))
            case "input_audio_buffer.commit":
                self._manual_commit(event_id)
            case "input_audio_buffer.clear":
                self.buffer.clear()
                self._vad_item = None
                self.send({"type": "input_audio_buffer.cleared"})
            case "conversation.item.create" | "conversation.item.retrieve" | "conversation.item.truncate" \
                    | "conversation.item.delete":
                try:
                    self._item_request(event)
                except ItemError as exc:
                    self.error(exc.code, str(exc), param=exc.param, event_id=event_id)
            case "response.create":
                self._response_create(event.get("response") or {}, event_id)
            case "response.cancel":
                self._response_cancel(event.get("response_id"), event_id)
            case "output_audio_buffer.clear":
                self.error("invalid_value", "output_audio_buffer.clear is only supported for WebRTC and SIP "
                           "connections.", event_id=event_id)

    # ----------------------------------------------------------------- session

    def _session_update(self, update: dict[str, Any], event_id: str | None) -> None:
        try:
            self.session = merge_session(self.session, update, audio_sent=self.audio_sent)
        except SessionError as exc:
            self.error(exc.code, str(exc), param=exc.param, event_id=event_id)
            return
        self._configure_vad()
        self.send({"type": "session.updated", "session": self.session})

    def _configure_vad(self) -> None:
        self.buffer.configure(self.session["audio"]["input"]["format"], turn_detection(self.session))
        self._vad_item = None

    # ----------------------------------------------------------------- input audio buffer

    async def _append(self, audio: bytes) -> None:
        self.stats.append_seconds += self.buffer.ms_of(audio) / 1000
        for vad_event in self.buffer.append(audio):
            if isinstance(vad_event, SpeechStarted):
                await self._speech_started(vad_event)
            elif isinstance(vad_event, SpeechStopped):
                await self._speech_stopped(vad_event)

    async def _speech_started(self, ev: SpeechStarted) -> None:
        self._vad_item = new_id("item")
        self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": ev.audio_start_ms,
                   "item_id": self._vad_item})
        detection = turn_detection(self.session) or {}
        if detection.get("interrupt_response", True) and self.active is not None:
            log.info("[emulator] connection %d: speech started, cancelling %s", self.index, self.active.id)
            self.active.cancel("turn_detected")

    async def _speech_stopped(self, ev: SpeechStopped) -> None:
        item_id = self._vad_item or new_id("item")
        self._vad_item = None
        self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": ev.audio_end_ms,
                   "item_id": item_id})
        detection = turn_detection(self.session) or {}
        self._commit(self.buffer.take_speech(ev, float(detection.get("prefix_padding_ms", 300) or 0)), item_id)
        if detection.get("create_response", True):
            await self._auto_response()

    def _manual_commit(self, event_id: str | None) -> None:
        if self.buffer.buffered_ms < MIN_COMMIT_MS:
            self.error("input_audio_buffer_commit_empty", commit_empty(self.buffer.buffered_ms), event_id=event_id)
            return
        self._commit(self.buffer.take_all(), self._vad_item or new_id("item"))
        self._vad_item = None

    def _commit(self, audio: bytes, item_id: str) -> None:
        """The buffer (or the VAD's speech segment) becomes a user audio item."""
        item = Item(item_id, {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed",
                              "role": "user", "content": [{"type": "input_audio", "transcript": None}]},
                    audio=audio, audio_ms=self.buffer.ms_of(audio))
        previous = self.conv.add(item)
        self.send({"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": previous})
        self.send({"type": "conversation.item.added", "previous_item_id": previous, "item": public(item.data)})
        self.send({"type": "conversation.item.done", "previous_item_id": previous, "item": public(item.data)})
        transcription = self.session["audio"]["input"]["transcription"]
        if transcription:
            turn = self.cursor.peek()
            heard = turn.heard if turn is not None else ""
            item.data["content"][0]["transcript"] = heard
            self.send({"type": "conversation.item.input_audio_transcription.delta", "item_id": item_id,
                       "content_index": 0, "delta": heard})
            usage = transcription_usage(str(transcription.get("model", "")), item.audio_ms / 1000, heard)
            self.send({"type": "conversation.item.input_audio_transcription.completed", "item_id": item_id,
                       "content_index": 0, "transcript": heard, "usage": usage})

    # ----------------------------------------------------------------- conversation items

    def _item_request(self, event: dict[str, Any]) -> None:
        match event["type"]:
            case "conversation.item.create":
                self.approvals.check(event["item"])
                item, previous = self.conv.create(event["item"], event.get("previous_item_id"), new_id("item"))
                self.approvals.answered(event["item"])
                call_id = item.data.get("call_id")
                if item.type == "function_call_output" and call_id in self._calls:
                    self._calls[call_id] = True
                self.send({"type": "conversation.item.added", "previous_item_id": previous,
                           "item": public(item.data)})
                self.send({"type": "conversation.item.done", "previous_item_id": previous,
                           "item": public(item.data)})
            case "conversation.item.retrieve":
                self.send({"type": "conversation.item.retrieved", "item": self.conv.retrieve(event["item_id"])})
            case "conversation.item.truncate":
                self.conv.truncate(event["item_id"], event["content_index"], event["audio_end_ms"])
                self.send({"type": "conversation.item.truncated", "item_id": event["item_id"],
                           "content_index": event["content_index"], "audio_end_ms": event["audio_end_ms"]})
            case "conversation.item.delete":
                self.conv.delete(event["item_id"])
                self.send({"type": "conversation.item.deleted", "item_id": event["item_id"]})

    # ----------------------------------------------------------------- responses

    def _response_create(self, params: dict[str, Any], event_id: str | None) -> None:
        if params.get("conversation", "auto") != "none" and self.active is not None:
            self.error("conversation_already_has_active_response",
                       f"Conversation already has an active response in progress: {self.active.id}. Wait until "
                       "the response is finished before creating a new one.", event_id=event_id)
            return
        self._start(self._plan(params))

    async def _auto_response(self) -> None:
        """Server VAD's response at the end of speech. A response being cancelled is let finish."""
        if self.active is not None and self.active.cancel_reason is not None:
            task = self._runs.get(self.active)
            if task is not None:
                async with asyncio.timeout(5.0):
                    await asyncio.shield(task)
        if self.active is not None:
            log.info("[emulator] connection %d: speech ended while %s is active; no new response",
                     self.index, self.active.id)
            return
        self._start(self._plan({}))

    def _response_cancel(self, response_id: str | None, event_id: str | None) -> None:
        run = self.active if response_id is None else next((r for r in self._runs if r.id == response_id), None)
        if run is None or run.cancel_reason is not None:
            self.error("response_cancel_not_active", "Cancellation failed: no active response found",
                       event_id=event_id)
            return
        run.cancel("client_cancelled")

    def _plan(self, params: dict[str, Any]) -> Plan:
        """Which script turn answers this response (see :mod:`realtime_emulator.script`)."""
        fallback = self.cursor.script.fallback
        if params.get("conversation") == "none":
            return Plan([Output(reply=fallback)], params=params)
        if self._calls and all(self._calls.values()):  # every call of the turn has its output
            turn = self._calls_turn
            self._calls.clear()
            self._calls_turn = None
            fault, self._deferred_expiry = self._deferred_expiry, None
            return Plan([Output(reply=(turn.then if turn is not None else None) or fallback)], params=params,
                        fault=fault)
        if (outcome := self.approvals.outcome(fallback)) is not None:
            return Plan(outcome, params=params)
        turn = self.cursor.peek()
        if turn is None:
            return Plan([Output(reply=fallback)], params=params)
        outputs = [Output(reply=turn.preamble)] if turn.preamble is not None else []
        outputs += [Output(reply=turn.reply)] if turn.reply is not None else []
        outputs += [Output(call=call) for call in turn.calls]
        outputs += [Output(approval=turn.mcp)] if turn.mcp is not None else []
        return Plan(outputs or [Output(reply=fallback)], turn=turn, fault=self.cursor.take_fault(), params=params)

    def _start(self, plan: Plan) -> None:
        fault = plan.fault
        if fault is not None and fault.replaces_response:
            log.info("[emulator] connection %d: fault %s instead of a response", self.index, fault.kind)
            if fault.kind == "error":
                self.error(fault.code, fault.message, error_type=fault.error_type)
                return
            if fault.ends_connection:
                self.terminate(fault)
                return
            if fault.kind == "stall":
                self._out.put_nowait(_Pause(fault.seconds))
        cut_short = fault is not None and fault.cuts_turn
        if plan.turn is not None and not cut_short:
            self.cursor.advance()
        run = ResponseRun(self, plan)
        assert self._tg is not None
        self._runs[run] = self._tg.create_task(run.run(), name=f"emulator-{self.index}-{run.id}")
        if not plan.out_of_band:
            self.active = run

    def response_finished(self, run: ResponseRun) -> None:
        self._runs.pop(run, None)
        if self.active is run:
            self.active = None

    def call_made(self, call_id: str, turn: Turn | None) -> None:
        """A function call went out: its turn's ``then`` waits for the output (and a response.create)."""
        if turn is not self._calls_turn:
            self._calls.clear()
            self._calls_turn = turn
        self._calls[call_id] = False
