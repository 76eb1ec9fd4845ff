"""The core's half that follows the service's reply: responses, audio, tool calls, the response gate."""

from __future__ import annotations

from speaker.core import feedback as fb
from speaker.core import outputs as O
from speaker.core import wire
from speaker.core.actions import (
    Play,
    RunTool,
    SendEvent,
)
from speaker.core.approval import McpQuestion
from speaker.core.base import Step
from speaker.core.confirm import ConfirmHandling
from speaker.core.memory import MemoryHandling
from speaker.core.playback import PCM_BYTES_PER_MS
from speaker.core.reply import Reply
from speaker.core.responses import Call
from speaker.core.state import Phase
from speaker.realtime import events as rt
from speaker.realtime.kinds import FailureKind


class ReplyHandling(ConfirmHandling, MemoryHandling):
    def _on_server(self, ev: rt.RealtimeEvent, now: float, out: list[Step]) -> None:
        self._confirm_on_server(ev, now, out)
        match ev:
            case rt.ResponseCreated(response_id=rid):
                self._gate.active = rid
                self._gate.awaiting = False
                self._reply = Reply(rid)
                if self.phase in (Phase.LISTENING, Phase.FOLLOW_UP, Phase.OPEN):
                    # server turn detection answered: the user's turn is over
                    if self._uplink.active:
                        self._uplink.end()
                        self._count_turn(out)
                    self.phase = Phase.THINKING
                self._deadline = now + self.cfg.response_timeout_s
            case rt.AudioDelta(response_id=rid, item_id=item_id, pcm=pcm):
                self._on_audio(rid, item_id, pcm, now, out)
            case rt.FunctionCall(call_id=call_id, name=name, arguments=args):
                self._start_tool(call_id, name, args, now, out)
            case rt.ResponseDone():
                self._on_response_done(ev, now, out)
            case rt.ServerSpeechStarted():
                if self.phase in (Phase.SPEAKING, Phase.THINKING) and self._duplex.speech:
                    self._barge_in(out, server_cancels=True)
                    self._begin_turn(now, out, speaking=True)
            case rt.ServerSpeechStopped():
                if self._stats is not None:
                    self._stats.requested(now)
            case rt.InputTranscript(transcript=text, seconds=seconds):
                if self._stats is not None and seconds > 0:
                    out.append(self._stats.transcribed(seconds))
                out.append(O.UserTranscript(text))
                self._memory_heard("user", text)
                if self._ask_id is not None:
                    out.append(O.Answer(self._ask_id, text))
                    self._ask_id = None
            case rt.TranscriptDone(transcript=text, response_id=rid) if rid not in self._gate.cancelled:
                out.append(O.ReplyText(text))
                self._memory_heard("assistant", text)
            case rt.ServerError(code=code, message=message):
                self._on_server_error(ev, code, message, now, out)
            case rt.McpEvent() if self._mcp is not None:
                reply = self._mcp.handle(ev)
                if isinstance(reply, McpQuestion):
                    self._confirm_holds_mcp(reply, now, out)  # asked by voice (``approval``)
                elif reply is not None:
                    out.append(SendEvent(reply))
            case _:
                pass

    def _on_server_error(self, ev: rt.ServerError, code: str | None, message: str, now: float,
                         out: list[Step]) -> None:
        if ev.kind is FailureKind.BENIGN:
            out.append(O.Note(f"benign server error {code}: {message}", "debug"))
            return
        if ev.kind is FailureKind.SESSION_EXPIRED:
            return  # the connection ends with it: SessionFailed decides (speaker.core.resume)
        out.append(O.Problem(message, code))
        if self._gate.awaiting and self.phase is Phase.THINKING:
            # our response.create (or commit) was refused: the turn cannot be answered
            self._gate.awaiting = False
            self._sound(fb.ERROR, now, out)
            self._after_reply(now, out)

    def _on_audio(self, rid: str, item_id: str, pcm: bytes, now: float, out: list[Step]) -> None:
        if rid in self._gate.cancelled or self.phase not in (Phase.THINKING, Phase.SPEAKING):
            return  # late deltas of an interrupted reply
        if self._reply is None or self._reply.response_id != rid:
            self._reply = Reply(rid)
        self._reply.add_audio(item_id, pcm, self._playback.written_ms)
        if self._stats is not None:
            self._stats.first_audio(rid, now)
        self._gate.awaiting = False
        self.phase = Phase.SPEAKING
        self._deadline = None
        self._playback.wrote(len(pcm) / PCM_BYTES_PER_MS)
        out.append(Play(pcm))

    def _on_response_done(self, ev: rt.ResponseDone, now: float, out: list[Step]) -> None:
        if self._stats is not None:
            out.append(self._stats.billed(ev))
        gate = self._gate
        if ev.response_id == gate.active:
            gate.active = None
        if ev.response_id in gate.cancelled:
            gate.cancelled.discard(ev.response_id)
            if gate.need_response and gate.open and self.phase is Phase.THINKING:
                self._send_response_create(now, out)
            return
        if self._reply is not None and self._reply.response_id == ev.response_id:
            self._reply.done = True
        for call in ev.function_calls:
            self._start_tool(call.call_id, call.name, call.arguments, now, out)
        if ev.status == "failed":
            out.append(O.Problem(f"the reply failed: {ev.error or 'unknown error'}"))
            self._sound(fb.ERROR, now, out)
        if gate.need_response and not gate.tools_pending:
            self._send_response_create(now, out)
            return
        if gate.tools_pending:
            self.phase = Phase.SPEAKING if self._playback.playing else Phase.THINKING
            gate.awaiting = False
            self._deadline = None
            return
        if self._confirm_ask(now, out):
            return  # a held call's question was asked (``confirm``)
        gate.awaiting = False
        self._finish_reply(now, out)

    def _finish_reply(self, now: float, out: list[Step]) -> None:
        """The model's answer is complete: wait for it to be heard, then follow up."""
        if (self._reply is not None and self._reply.audio) or self._playback.playing:
            self._await_playback(out)
            self.phase = Phase.SPEAKING
            self._deadline = None
        else:
            self._after_reply(now, out)

    def _start_tool(self, call_id: str, name: str, arguments: str, now: float, out: list[Step]) -> None:
        if call_id in self._gate.calls or self._confirm_holds_call(call_id, name, arguments, out):
            return
        self._gate.calls[call_id] = Call(name, now)
        if self._thinking_at is None:
            self._thinking_at = now + self.cfg.thinking_after_s
        out.append(O.ToolStarted(call_id, name))
        out.append(RunTool(call_id, name, arguments))

    def _on_tool_finished(self, call_id: str, output: str, ok: bool, now: float, out: list[Step]) -> None:
        call = self._gate.calls.get(call_id)
        if call is None or call.sent:
            return
        out.append(O.ToolDone(call_id, call.name, ok, round(now - call.started, 3), output))
        if not self._gate.tools_pending or all(c.sent or k == call_id for k, c in self._gate.calls.items()):
            self._thinking_at = None
        if not self._session_open:
            return
        call.sent = True
        out.append(SendEvent(wire.function_output(call_id, output)))
        if self._gate.tools_pending:
            return
        if self.phase not in (Phase.THINKING, Phase.SPEAKING):
            return  # the user moved on (barge-in): the output rides along with their next turn
        if self._gate.active is not None:
            self._gate.need_response = True  # never two responses at once: wait for response.done
            return
        self._send_response_create(now, out)

    def _send_response_create(self, now: float, out: list[Step]) -> None:
        self._gate.need_response = False
        self._gate.finished_calls()
        out.append(SendEvent(wire.response_create()))
        playing = self._playback.playing
        self._expect_response(now)
        if playing:
            self.phase = Phase.SPEAKING

    # ------------------------------------------------------------------ sounds
