"""One emulated Response: the GA event lifecycle for spoken replies and function calls, streamed
faster than real time, cancellable between deltas, with usage computed from what was really produced.

Lifecycle (realtime-protocol.md §4.2): response.created, rate_limits.updated, then per output item
output_item.added, conversation.item.added, content_part.added, output_audio.delta ×N interleaved with
output_audio_transcript.delta, output_audio.done, output_audio_transcript.done, content_part.done,
output_item.done, conversation.item.done; finally response.done with usage. A function call item
streams function_call_arguments.delta/.done instead of content. Cancelled or cut responses still close
every part they opened (status ``incomplete``), as the service does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from realtime_emulator import garbage
from realtime_emulator.conversation import (
    Item,
    Segment,
    cached,
    output_audio_tokens,
    public,
    text_tokens,
    usage_block,
)
from realtime_emulator.script import Fault, FunctionCallSpec, McpApprovalSpec, Reply, Turn
from realtime_emulator.session import new_id
from realtime_emulator.voice import speech_for

if TYPE_CHECKING:
    from realtime_emulator.connection import Connection

log = logging.getLogger(__name__)

CHUNK_MS = 100
"""Audio per ``response.output_audio.delta``."""


@dataclass(frozen=True)
class Output:
    reply: Reply | None = None
    call: FunctionCallSpec | None = None
    approval: McpApprovalSpec | None = None
    """An ``mcp_approval_request`` item (``realtime_emulator.mcp``)."""
    mcp_call: McpApprovalSpec | None = None
    """The approved call's ``mcp_call`` item (of the request ``request_id``)."""
    request_id: str | None = None


@dataclass
class Plan:
    """What a response will contain, decided when it is requested."""

    outputs: list[Output]
    turn: Turn | None = None
    """The script turn it answers (consumed when the response starts, unless a fault cuts it short)."""
    fault: Fault | None = None
    params: dict[str, Any] = field(default_factory=dict)
    """The ``response`` object of ``response.create`` (per-response overrides)."""

    @property
    def out_of_band(self) -> bool:
        return self.params.get("conversation") == "none"


class ResponseRun:
    """Streams one response through the connection's writer. Owned by the connection's task group."""

    def __init__(self, conn: Connection, plan: Plan) -> None:
        self.conn = conn
        self.plan = plan
        self.id = new_id("resp")
        self.cancel_reason: str | None = None
        self.stopped = False
        """The connection is going away: send nothing more."""
        self._wake = asyncio.Event()
        self._deltas = 0
        self._fault_fired = False
        self._failed: dict[str, Any] | None = None
        self._incomplete: str | None = None
        self._outputs: list[dict[str, Any]] = []
        self._out_text = 0
        self._out_audio_ms = 0.0
        self._at = ("item_emufaultnone", 0)
        """The item being streamed and its output index (where injected frames pretend to belong)."""
        session = conn.session
        params = plan.params
        self.modalities: list[str] = list(params.get("output_modalities") or session["output_modalities"])
        audio_out = (params.get("audio") or {}).get("output") or {}
        self.voice = audio_out.get("voice", session["audio"]["output"]["voice"])
        self.format = audio_out.get("format", session["audio"]["output"]["format"])
        self.max_tokens = params.get("max_output_tokens", session["max_output_tokens"])
        self.metadata = params.get("metadata")
        head = json.dumps([params.get("instructions", session["instructions"]),
                           params.get("tools", session["tools"])])
        self._context = conn.conv.context(head, self._input_items(), session.get("truncation"))
        self._cache = cached(conn.conv.last_context, self._context) if not plan.out_of_band else (0, 0)

    # ----------------------------------------------------------------- control

    def cancel(self, reason: str) -> None:
        """Stop at the next delta; response.done will say cancelled with this reason."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
            self._wake.set()

    def stop(self) -> None:
        self.stopped = True
        self._wake.set()

    @property
    def cut(self) -> bool:
        return self.stopped or self.cancel_reason is not None or self._failed is not None \
            or self._incomplete is not None

    async def _pause(self, seconds: float) -> None:
        if seconds > 0 and not self.cut:
            try:
                async with asyncio.timeout(seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass

    # ----------------------------------------------------------------- the stream

    async def run(self) -> None:
        try:
            fault = self.plan.fault
            if fault is not None and fault.kind == "delay":
                await self._pause(fault.seconds or 0.0)
            if self.stopped:
                return
            if fault is not None and fault.kind == "garbage":
                self._inject(before_created=True)
            self._send("response.created", response=self._response("in_progress"))
            self._send("rate_limits.updated", rate_limits=[
                {"name": "requests", "limit": 10000, "remaining": 9999, "reset_seconds": 0.006},
                {"name": "tokens", "limit": 2000000, "remaining": 2000000 - self._input_tokens(),
                 "reset_seconds": 0.5},
            ])
            if fault is not None and fault.kind == "response_failed" and fault.after_deltas is None:
                self._fail(fault)
            for index, output in enumerate(self.plan.outputs):
                if self.cut:
                    break
                if output.reply is not None:
                    await self._message(index, output.reply)
                elif output.call is not None:
                    self._function_call(index, output.call)
                elif output.approval is not None:
                    self._approval_request(index, output.approval)
                elif output.mcp_call is not None:
                    self._mcp_call(index, output.mcp_call, output.request_id)
            self._maybe_fault(end=True)
            if not self.stopped:
                self._finish()
                if fault is not None and fault.follow_up:
                    calls = any(o.call is not None for o in self.plan.outputs) and not self.plan.out_of_band
                    self.conn.arm_expiry(fault, after_call=calls)
        finally:
            self.conn.response_finished(self)

    def _maybe_fault(self, *, end: bool = False) -> None:
        fault = self.plan.fault
        if fault is None or fault.after_deltas is None or self._fault_fired or self.cut:
            return
        if self._deltas < fault.after_deltas and not end:
            return
        self._fault_fired = True
        log.info("[emulator] fault %s in %s after %d deltas", fault.kind, self.id, self._deltas)
        if fault.kind == "response_failed":
            self._fail(fault)
        elif fault.kind == "garbage":
            self._inject(before_created=False)
        elif fault.ends_connection:
            self.conn.terminate(fault)

    def _inject(self, *, before_created: bool) -> None:
        """Send the garbage fault's frames that belong here (see :mod:`realtime_emulator.garbage`)."""
        fault = self.plan.fault
        assert fault is not None
        item_id, index = self._at
        tools = self.plan.params.get("tools", self.conn.session["tools"]) or []
        tool = next((t["name"] for t in tools if t.get("type") == "function" and t.get("name")), "unknown_tool")
        context = garbage.Context(self.id, item_id, index, self._response("completed"), tool)
        for variant in fault.variants:
            if (variant in garbage.BEFORE_CREATED) == before_created:
                self.conn.inject(variant, garbage.frames(variant, context))

    def _fail(self, fault: Fault) -> None:
        self._failed = {"type": fault.error_type, "code": fault.code, "message": fault.message}

    async def _message(self, index: int, reply: Reply) -> None:
        audio_mode = self.modalities == ["audio"]
        item = self._open_item(index, {"type": "message", "status": "in_progress", "role": "assistant",
                                       "content": []})
        ids = {"response_id": self.id, "item_id": item.id, "output_index": index, "content_index": 0}
        self._at = (item.id, index)
        words = reply.text.split()
        said: list[str] = []
        if audio_mode:
            self._send("response.content_part.added", **ids, part={"type": "audio", "transcript": ""})
            # from here on the item is an assistant audio message: a barge-in may truncate it mid-stream
            item.data["content"] = [{"type": "output_audio", "transcript": ""}]
            pcm = speech_for(reply.text, reply.audio)
            chunk = int(48 * CHUNK_MS)
            chunks = [pcm[i:i + chunk] for i in range(0, len(pcm), chunk)] or [b""]
            for n, piece in enumerate(chunks):
                # the transcript runs along with the audio, a few words per chunk
                upto = len(words) if n == len(chunks) - 1 else (n + 1) * len(words) // len(chunks)
                self._maybe_fault()
                self._check_budget(len(piece) / 48, " ".join(words[:upto]))
                if self.cut:
                    break
                self._send("response.output_audio.delta", **ids, delta=base64.b64encode(piece).decode("ascii"))
                self._deltas += 1
                item.audio += piece
                item.audio_ms += len(piece) / 48
                self._out_audio_ms += len(piece) / 48
                self.conn.audio_sent = True
                if upto > len(said):
                    delta = " ".join(words[len(said):upto])
                    self._send("response.output_audio_transcript.delta", **ids,
                               delta=delta if not said else " " + delta)
                    said = words[:upto]
                await self._pause(len(piece) / 48 / 1000 / self.conn.options.speed)
            transcript = " ".join(said)
            self._send("response.output_audio.done", **ids)
            self._send("response.output_audio_transcript.done", **ids, transcript=transcript)
            self._send("response.content_part.done", **ids, part={"type": "audio", "transcript": transcript})
            content = [{"type": "output_audio", "transcript": transcript}]
        else:
            self._send("response.content_part.added", **ids, part={"type": "text", "text": ""})
            for n, word in enumerate(words):
                self._check_budget(0, " ".join(words[:n + 1]))
                if self.cut:
                    break
                self._send("response.output_text.delta", **ids, delta=word if n == 0 else " " + word)
                said.append(word)
                await self._pause(0.02 / self.conn.options.speed)
            transcript = " ".join(said)
            self._send("response.output_text.done", **ids, text=transcript)
            self._send("response.content_part.done", **ids, part={"type": "text", "text": transcript})
            content = [{"type": "output_text", "text": transcript}]
        self._out_text += text_tokens(transcript)
        self._close_item(index, item, content=content)

    def _function_call(self, index: int, call: FunctionCallSpec) -> None:
        tools = self.plan.params.get("tools", self.conn.session["tools"]) or []
        offered = [t.get("name") for t in tools if t.get("type") == "function"]
        if call.name not in offered:
            # a real model only calls what it was offered: this is a mistake in the script
            warning = f"script calls {call.name!r}, which the session does not offer (offered: {offered})"
            log.warning("[emulator] %s", warning)
            self.conn.recorder.warnings.append(warning)
        call_id = call.call_id or new_id("call")
        arguments = call.arguments_json
        item = self._open_item(index, {"type": "function_call", "status": "in_progress", "name": call.name,
                                       "call_id": call_id, "arguments": ""})
        ids = {"response_id": self.id, "item_id": item.id, "output_index": index, "call_id": call_id}
        for start in range(0, len(arguments), 24):
            self._send("response.function_call_arguments.delta", **ids, delta=arguments[start:start + 24])
        self._send("response.function_call_arguments.done", **ids, name=call.name, arguments=arguments)
        self._out_text += text_tokens(call.name + arguments)
        self._close_item(index, item, arguments=arguments)
        if not self.plan.out_of_band:
            self.conn.call_made(call_id, self.plan.turn)

    def _approval_request(self, index: int, spec: McpApprovalSpec) -> None:
        self._check_mcp_offered(spec)
        request_id = spec.request_id or new_id("mcpr")
        item = Item(request_id, {"id": request_id, "type": "mcp_approval_request",
                                 "server_label": spec.server_label, "name": spec.name,
                                 "arguments": spec.arguments_json})
        self._mcp_item(index, item, item.data)
        if not self.plan.out_of_band:
            self.conn.approvals.requested(request_id, spec, self.plan.turn)

    def _mcp_call(self, index: int, spec: McpApprovalSpec, request_id: str | None) -> None:
        item_id = new_id("mcp")
        fields = {"id": item_id, "type": "mcp_call", "server_label": spec.server_label, "name": spec.name,
                  "arguments": spec.arguments_json, "approval_request_id": request_id}
        item = Item(item_id, dict(fields))
        self._send("response.mcp_call.in_progress", item_id=item_id, output_index=index)
        item.data["output"] = spec.output
        self._send("response.mcp_call.completed", item_id=item_id, output_index=index)
        self._mcp_item(index, item, fields)

    def _mcp_item(self, index: int, item: Item, added: dict[str, Any]) -> None:
        """An MCP item's added and done events (it has no content to stream)."""
        self._send("response.output_item.added", response_id=self.id, output_index=index, item=dict(added))
        if not self.plan.out_of_band:
            previous = self.conn.conv.add(item)
            self._send("conversation.item.added", previous_item_id=previous, item=dict(added))
        self._send("response.output_item.done", response_id=self.id, output_index=index, item=public(item.data))
        if not self.plan.out_of_band:
            self._send("conversation.item.done", item=public(item.data))
        self._out_text += text_tokens(item.data["name"] + item.data["arguments"])
        self._outputs.append(public(item.data))

    def _check_mcp_offered(self, spec: McpApprovalSpec) -> None:
        tools = self.plan.params.get("tools", self.conn.session["tools"]) or []
        labels = [t.get("server_label") for t in tools if t.get("type") == "mcp"]
        if spec.server_label not in labels:
            warning = f"script asks approval for MCP server {spec.server_label!r}, which the session does not " \
                      f"offer (offered: {labels})"
            log.warning("[emulator] %s", warning)
            self.conn.recorder.warnings.append(warning)

    # ----------------------------------------------------------------- items

    def _open_item(self, index: int, fields: dict[str, Any]) -> Item:
        item = Item(new_id("item"), {"id": "", "object": "realtime.item", **fields})
        item.data["id"] = item.id
        self._send("response.output_item.added", response_id=self.id, output_index=index, item=public(item.data))
        if not self.plan.out_of_band:
            previous = self.conn.conv.add(item)
            self._send("conversation.item.added", previous_item_id=previous, item=public(item.data))
        return item

    def _close_item(self, index: int, item: Item, **fields: Any) -> None:
        item.data.update(fields, status="incomplete" if self.cut else "completed")
        self._send("response.output_item.done", response_id=self.id, output_index=index, item=public(item.data))
        if not self.plan.out_of_band and self.conn.conv.get(item.id) is not None:
            self._send("conversation.item.done", item=public(item.data))
        self._outputs.append(public(item.data))

    def _input_items(self) -> list[Item] | None:
        """The response's input: the default conversation, or ``response.input`` when given."""
        given = self.plan.params.get("input")
        if given is None:
            return None
        items: list[Item] = []
        for entry in given:
            if entry.get("type") == "item_reference":
                found = self.conn.conv.get(entry["id"])
                if found is not None:
                    items.append(found)
            else:
                items.append(Item(entry.get("id") or new_id("item"), dict(entry)))
        return items

    # ----------------------------------------------------------------- accounting

    def _input_tokens(self) -> int:
        return sum(s.text + s.audio for s in self._context)

    def _check_budget(self, next_ms: float, text: str) -> None:
        """max_output_tokens: stop with status incomplete before going over (``text``: this item's
        transcript including what is about to be sent)."""
        if isinstance(self.max_tokens, int) and not self.cut:
            spent = self._out_text + text_tokens(text) + output_audio_tokens(self._out_audio_ms + next_ms)
            if spent > self.max_tokens:
                self._incomplete = "max_output_tokens"

    def _response(self, status: str) -> dict[str, Any]:
        conversation_id = None if self.plan.out_of_band else self.conn.conversation_id
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": status,
            "status_details": self._status_details(status),
            "output": list(self._outputs),
            "conversation_id": conversation_id,
            "output_modalities": self.modalities,
            "max_output_tokens": self.max_tokens,
            "audio": {"output": {"format": self.format, "voice": self.voice}},
            "usage": None if status == "in_progress" else usage_block(
                self._context, self._cache, self._out_text, output_audio_tokens(self._out_audio_ms)),
            "metadata": self.metadata,
        }

    def _status_details(self, status: str) -> dict[str, Any] | None:
        if status == "cancelled":
            return {"type": "cancelled", "reason": self.cancel_reason}
        if status == "incomplete":
            return {"type": "incomplete", "reason": self._incomplete}
        if status == "failed":
            return {"type": "failed", "error": self._failed}
        return None

    def _finish(self) -> None:
        if self._failed is not None:
            status = "failed"
        elif self.cancel_reason is not None:
            status = "cancelled"
        elif self._incomplete is not None:
            status = "incomplete"
        else:
            status = "completed"
        self._send("response.done", response=self._response(status))
        if not self.plan.out_of_band:
            out: list[Segment] = []
            for data in self._outputs:
                item = self.conn.conv.get(data["id"])
                if item is not None:
                    out.append(Segment(("item", item.id, item.version), *item.tokens()))
            self.conn.conv.last_context = self._context + out

    def _send(self, type: str, **fields: Any) -> None:
        if not self.stopped:
            self.conn.send({"type": type, **fields})
