"""The conversation core: a sans-I/O state machine.

It is fed typed events (wake word, VAD, microphone frames, Realtime events, tool results, playback,
time) through ``handle(event, now)`` and returns the actions the app must take. It never awaits a
socket or a device, so a test can drive it with a script of events and read back what it decided.

Phases::

    IDLE ──wake──► CONNECTING ──ready──► LISTENING ──speech end──► THINKING ──audio──► SPEAKING
      ▲                                     ▲                        │  ▲ tools           │ drained
      │                                     └──────── speech ──── FOLLOW_UP ◄─────────────┘
      └────────── idle_close_s ─────────── OPEN ◄── follow_up_s ───┘

The Realtime session is open in every phase but IDLE and DISABLED, and closed as soon as the
conversation goes quiet: an open conversation is what costs money.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from speaker.config.schema import Settings
from speaker.core import wire
from speaker.core.actions import (
    Action,
    AppendAudio,
    AwaitPlayback,
    CloseSession,
    Notify,
    OpenSession,
    Play,
    PlaySound,
    ResetVad,
    RunTool,
    SendEvent,
    SetState,
    StopPlayback,
)
from speaker.core.events import (
    Announce,
    CoreEvent,
    EndAfterReply,
    MicFrame,
    PlaybackDrained,
    ServerEvent,
    SessionClosed,
    SessionFailed,
    SessionReady,
    SetMuted,
    StartConversation,
    Stop,
    Tick,
    ToolFinished,
    Wake,
)
from speaker.core.uplink import Uplink
from speaker.errors import RealtimeError
from speaker.listen.events import SpeechEnded, SpeechStarted
from speaker.realtime import events as rt
from speaker.realtime.classify import FailureKind

log = logging.getLogger(__name__)



class Phase(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    FOLLOW_UP = "follow_up"
    OPEN = "open"
    DISABLED = "disabled"


VISIBLE = {
    Phase.IDLE: "idle", Phase.OPEN: "idle", Phase.CONNECTING: "listening", Phase.LISTENING: "listening",
    Phase.FOLLOW_UP: "listening", Phase.THINKING: "thinking", Phase.SPEAKING: "speaking",
    Phase.DISABLED: "error",
}


class PlaybackPosition(Protocol):
    """Read-only view of the speaker sink (milliseconds of reply audio written / really played)."""

    @property
    def written_ms(self) -> float: ...

    @property
    def played_ms(self) -> float: ...


@dataclass(frozen=True)
class CoreConfig:
    local_turns: bool = True
    """Our VAD ends turns (commit + response.create); otherwise the server's turn detection does."""
    server_silence_ms: int = 500
    barge_in: str = "wake"
    follow_up_s: float = 5.0
    idle_close_s: float = 5.0
    echo_tail_s: float = 0.3
    no_speech_timeout_s: float = 6.0
    max_turn_s: float = 30.0
    max_session_s: float = 55 * 60
    response_timeout_s: float = 20.0
    pad_ms: int = 300
    hold_ms: int = 600
    tail_ms: int = 60

    @classmethod
    def from_settings(cls, s: Settings) -> CoreConfig:
        td = s.realtime.turn_detection
        local = td.type == "local"
        silence = td.silence_duration_ms if td.type == "server_vad" else 500
        return cls(
            local_turns=local, server_silence_ms=silence, barge_in=s.conversation.barge_in,
            follow_up_s=s.conversation.follow_up_s, idle_close_s=s.conversation.idle_close_s,
            echo_tail_s=s.conversation.echo_tail_ms / 1000, no_speech_timeout_s=s.vad.no_speech_timeout_s,
            max_turn_s=s.vad.max_turn_s, max_session_s=s.conversation.max_session_s,
            response_timeout_s=s.conversation.response_timeout_s, pad_ms=s.vad.pad_ms,
            hold_ms=s.vad.hangover_ms + s.vad.frame_ms,
            # the server's VAD needs to hear its silence; ours needs only a breath of it
            tail_ms=60 if local else silence + 200,
        )


@dataclass
class _ItemAudio:
    item_id: str
    start_ms: float
    """Sink position (written_ms) where this item's first audio went."""
    received_ms: float = 0.0


@dataclass
class _Reply:
    response_id: str
    items: list[_ItemAudio] = field(default_factory=list)
    done: bool = False


class Conversation:
    """The state machine. ``handle`` is the only entry point."""

    def __init__(self, cfg: CoreConfig, position: PlaybackPosition) -> None:
        self.cfg = cfg
        self._pos = position
        self.phase = Phase.IDLE
        self.muted = False
        self.disabled_reason: str | None = None
        self._session = 0
        self._session_open = False
        self._session_started = 0.0
        self._uplink = Uplink(pad_ms=cfg.pad_ms, hold_ms=cfg.hold_ms, tail_ms=cfg.tail_ms)
        self._recent: deque[tuple[float, bytes]] = deque()
        self._last_t = 0.0
        self._deadline: float | None = None
        self._turn_started = 0.0
        self._deaf_until = 0.0
        self._reply: _Reply | None = None
        self._active_response: str | None = None
        self._cancelled: set[str] = set()
        self._calls: dict[str, bool] = {}  # call_id -> output sent
        self._need_response = False
        self._awaiting_response = False
        self._audio_in_reply = False
        self._play_token = 0
        self._draining: int | None = None
        self._end_after_reply = False
        self._visible = "idle"
        self.turns = 0
        self._purpose = "conversation"
        self._opening_prompt: str | None = None
        self._ask_id: str | None = None
        self._pending: list[Announce | StartConversation] = []

    # ------------------------------------------------------------------ public

    @property
    def session(self) -> int:
        return self._session

    @property
    def state(self) -> str:
        return "muted" if self.muted else VISIBLE[self.phase]

    @property
    def uplink_seconds(self) -> float:
        """Microphone audio sent in the current session (seconds at 16 kHz)."""
        return self._uplink.sent_seconds

    def handle(self, event: CoreEvent, now: float) -> list[Action]:
        out: list[Action] = []
        self._dispatch(event, now, out)
        self._check_deadlines(now, out)
        if self._pending and self.phase is Phase.IDLE and not self.muted:
            self._start_requested(self._pending.pop(0), now, out)
        visible = self.state
        if visible != self._visible:
            self._visible = visible
            out.append(SetState(visible))
        return out

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, event: CoreEvent, now: float, out: list[Action]) -> None:
        match event:
            case MicFrame(pcm=pcm, t=t):
                self._on_mic(pcm, t, now, out)
            case Wake():
                self._on_wake(event, now, out)
            case SpeechStarted(t=t):
                self._on_speech_started(t, now, out)
            case SpeechEnded(t=t):
                self._on_speech_ended(t, now, out)
            case SessionReady(session=sid) if sid == self._session and self.phase is Phase.CONNECTING \
                    and self._opening_prompt is not None:
                # announce / start: the model speaks first
                self._session_open = True
                self._session_started = now
                out.append(SendEvent(wire.response_create(self._opening_prompt)))
                self._opening_prompt = None
                self._expect_response(now)
            case SessionReady(session=sid) if sid == self._session and self.phase is Phase.CONNECTING:
                self._session_open = True
                self._session_started = now
                data = self._uplink.ready()
                if data:
                    out.append(AppendAudio(data))
                self.phase = Phase.LISTENING
                if self.cfg.local_turns and self._uplink.spoke and not self._uplink.speaking:
                    self._commit_turn(now, out)  # the user finished talking while we connected
            case SessionFailed(session=sid, error=err) if sid == self._session:
                self._on_session_failed(err, now, out)
            case SessionClosed(session=sid) if sid == self._session:
                if self._session_open:
                    self._session_open = False
                    if self.phase not in (Phase.IDLE, Phase.DISABLED):
                        self._to_idle(out)
            case ServerEvent(session=sid, event=ev) if sid == self._session and self._session_open:
                self._on_server(ev, now, out)
            case ToolFinished(call_id=call_id, output=output):
                self._on_tool_finished(call_id, output, now, out)
            case PlaybackDrained(token=token) if token == self._draining:
                self._draining = None
                self._after_reply(now, out)
            case Stop(reason=reason):
                self._stop(reason, out)
            case EndAfterReply():
                self._end_after_reply = True
            case SetMuted(muted=muted):
                self._on_mute(muted, out)
            case Announce() | StartConversation():
                if self.muted:
                    out.append(Notify("error", {"message": "muted: request ignored"}))
                elif self.phase is Phase.DISABLED:
                    out.append(Notify("error", {"message": f"conversation unavailable: {self.disabled_reason}"}))
                else:
                    self._pending.append(event)  # started as soon as the speaker is idle
            case Tick():
                pass
            case _:
                pass  # stale session/playback events

    # ------------------------------------------------------------------ microphone & VAD

    def _on_mic(self, pcm: bytes, t: float, now: float, out: list[Action]) -> None:
        self._last_t = t
        if self.phase is Phase.IDLE or self.phase is Phase.DISABLED:
            return
        # a short window of recent audio, for turns that start on speech (follow-up, barge-in)
        self._recent.append((t, pcm))
        while self._recent and self._recent[0][0] <= t - self.cfg.pad_ms / 1000 - 0.05:
            self._recent.popleft()
        if self.phase in (Phase.SPEAKING, Phase.THINKING) and self.cfg.barge_in != "speech":
            return  # half duplex: while a reply plays the microphone hears the speaker
        data = self._uplink.feed(pcm, t)
        if data:
            out.append(AppendAudio(data))

    def _on_speech_started(self, t: float, now: float, out: list[Action]) -> None:
        if now < self._deaf_until:
            return
        if self.phase is Phase.FOLLOW_UP or (self.phase is Phase.OPEN and not self.cfg.local_turns):
            self._begin_turn(self._recent_audio(), t, now, out, speaking=True)
            data = self._uplink.speech_started(t)
            if data:
                out.append(AppendAudio(data))
            return
        if self.phase in (Phase.SPEAKING, Phase.THINKING) and self.cfg.barge_in == "speech" \
                and self.cfg.local_turns:
            self._barge_in(out)
            self._begin_turn(self._recent_audio(), t, now, out, speaking=True)
            return
        if self.phase in (Phase.CONNECTING, Phase.LISTENING):
            data = self._uplink.speech_started(t)
            if data:
                out.append(AppendAudio(data))

    def _on_speech_ended(self, t: float, now: float, out: list[Action]) -> None:
        if self.phase not in (Phase.CONNECTING, Phase.LISTENING) or not self._uplink.speaking:
            return
        data = self._uplink.speech_ended(t)
        if self.phase is Phase.CONNECTING:
            return  # committed on SessionReady
        if data or not self.cfg.local_turns:
            out.append(AppendAudio(data, final=True))
        if self.cfg.local_turns:
            self._commit_turn(now, out)

    def _recent_audio(self) -> bytes:
        return b"".join(pcm for _, pcm in self._recent)

    # ------------------------------------------------------------------ wake word

    def _on_wake(self, ev: Wake, now: float, out: list[Action]) -> None:
        if self.muted:
            return
        if self.phase is Phase.DISABLED:
            out.append(PlaySound("error"))
            out.append(Notify("error", {"message": f"conversation unavailable: {self.disabled_reason}"}))
            return
        if self.phase in (Phase.LISTENING, Phase.CONNECTING):
            return  # already listening to this user
        if self.phase in (Phase.SPEAKING, Phase.THINKING):
            if self.cfg.barge_in == "off":
                return
            self._barge_in(out)
        out.append(Notify("wake", {"model": ev.model, "score": round(ev.score, 4)}))
        out.append(PlaySound("wake"))
        if self.phase is Phase.IDLE:
            self._new_session("conversation")
            self.phase = Phase.CONNECTING
            self._turn_started = now
            self._uplink.begin(ev.preroll, ev.t, ready=False)
            self._deadline = now + self.cfg.no_speech_timeout_s
            out.append(OpenSession(self._session, wake_model=ev.model))
            return
        # the session is open (follow-up, open, or a barge-in just now): a new turn. The VAD has been
        # hearing the wake word (and maybe our own reply) as speech: start it afresh so the request that
        # follows gets its own start and end.
        out.append(ResetVad())
        self._begin_turn(ev.preroll, ev.t, now, out, speaking=False)

    def _new_session(self, purpose: str) -> None:
        self._session += 1
        self._session_open = False
        self._uplink.sent_bytes = 0
        self.turns = 0
        self._purpose = purpose
        self._ask_id = None
        self._opening_prompt = None

    def _start_requested(self, req: Announce | StartConversation, now: float, out: list[Action]) -> None:
        """An announcement or a conversation the outside world asked for (MQTT say/ask)."""
        if isinstance(req, Announce):
            self._new_session("announce")
            self._opening_prompt = ("Say exactly the following text, word for word, and nothing else: "
                                    + req.text)
            instructions = "You read announcements aloud exactly as written, without adding anything."
            out.append(OpenSession(self._session, purpose="announce", instructions=instructions))
            out.append(Notify("announce", {"text": req.text}))
        else:
            self._new_session("start")
            self._ask_id = req.ask_id
            self._opening_prompt = req.instructions
            out.append(OpenSession(self._session, purpose="start", instructions=req.instructions,
                                   transcribe=req.ask_id is not None))
            out.append(Notify("conversation_started", {"ask_id": req.ask_id}))
        self.phase = Phase.CONNECTING
        self._deadline = now + self.cfg.response_timeout_s

    def _begin_turn(self, preroll: bytes, t: float, now: float, out: list[Action], *, speaking: bool) -> None:
        self.phase = Phase.LISTENING
        self._turn_started = now
        self._deadline = now + (self.cfg.max_turn_s if speaking else self.cfg.no_speech_timeout_s)
        data = self._uplink.begin(preroll, t, ready=True, speaking=speaking)
        if data:
            out.append(AppendAudio(data))

    # ------------------------------------------------------------------ turn end & replies

    def _commit_turn(self, now: float, out: list[Action]) -> None:
        self._uplink.end()
        self.turns += 1
        out.append(SendEvent(wire.commit()))
        if self._cancelled:
            # a barged-in reply is still being cancelled: a second response.create now would be refused
            # (conversation_already_has_active_response); ask once its response.done has arrived
            self._need_response = True
        else:
            out.append(SendEvent(wire.response_create()))
        self._expect_response(now)

    def _expect_response(self, now: float) -> None:
        self.phase = Phase.THINKING
        self._awaiting_response = True
        self._reply = None
        self._audio_in_reply = False
        self._deadline = now + self.cfg.response_timeout_s

    def _on_server(self, ev: rt.RealtimeEvent, now: float, out: list[Action]) -> None:
        match ev:
            case rt.ResponseCreated(response_id=rid):
                self._active_response = rid
                self._awaiting_response = False
                self._reply = _Reply(rid)
                if self.phase in (Phase.LISTENING, Phase.FOLLOW_UP, Phase.OPEN):
                    # server turn detection answered: the user's turn is over
                    if self._uplink.active:
                        self._uplink.end()
                        self.turns += 1
                    self.phase = Phase.THINKING
                self._deadline = now + self.cfg.response_timeout_s
            case rt.AudioDelta(response_id=rid, item_id=item_id, pcm=pcm):
                self._on_audio(rid, item_id, pcm, now, out)
            case rt.FunctionCall(call_id=call_id, name=name, arguments=args):
                self._start_tool(call_id, name, args, out)
            case rt.ResponseDone():
                self._on_response_done(ev, now, out)
            case rt.ServerSpeechStarted():
                if self.phase in (Phase.SPEAKING, Phase.THINKING) and self.cfg.barge_in == "speech":
                    self._barge_in(out, server_cancels=True)
                    self._begin_turn(b"", self._last_t, now, out, speaking=True)
            case rt.ServerSpeechStopped():
                pass
            case rt.InputTranscript(transcript=text):
                out.append(Notify("transcript", {"text": text}))
                if self._ask_id is not None:
                    out.append(Notify("answer", {"ask_id": self._ask_id, "text": text}))
                    self._ask_id = None
            case rt.TranscriptDone(transcript=text, response_id=rid) if rid not in self._cancelled:
                out.append(Notify("reply", {"text": text}))
            case rt.ServerError(code=code, message=message):
                if ev.kind is FailureKind.BENIGN:
                    log.debug("benign server error %s: %s", code, message)
                    return
                log.warning("Realtime error %s: %s", code, message)
                out.append(Notify("error", {"code": code, "message": message}))
                if self._awaiting_response and self.phase is Phase.THINKING:
                    # our response.create (or commit) was refused: the turn cannot be answered
                    self._awaiting_response = False
                    out.append(PlaySound("error"))
                    self._after_reply(now, out)
            case _:
                pass

    def _on_audio(self, rid: str, item_id: str, pcm: bytes, now: float, out: list[Action]) -> None:
        if rid in self._cancelled or self.phase not in (Phase.THINKING, Phase.SPEAKING):
            return  # late deltas of an interrupted reply
        if self._reply is None or self._reply.response_id != rid:
            self._reply = _Reply(rid)
        items = self._reply.items
        if not items or items[-1].item_id != item_id:
            items.append(_ItemAudio(item_id, start_ms=self._pos.written_ms))
        items[-1].received_ms += len(pcm) / 48.0  # pcm16 @ 24 kHz: 48 bytes per ms
        self._audio_in_reply = True
        self._awaiting_response = False
        self.phase = Phase.SPEAKING
        self._deadline = None
        out.append(Play(pcm))

    def _on_response_done(self, ev: rt.ResponseDone, now: float, out: list[Action]) -> None:
        if ev.response_id == self._active_response:
            self._active_response = None
        if ev.response_id in self._cancelled:
            self._cancelled.discard(ev.response_id)
            if self._need_response and not self._cancelled and not self._pending_tools() \
                    and self.phase is Phase.THINKING:
                self._send_response_create(now, out)
            return
        if self._reply is not None and self._reply.response_id == ev.response_id:
            self._reply.done = True
        for call in ev.function_calls:
            self._start_tool(call.call_id, call.name, call.arguments, out)
        if ev.status == "failed":
            out.append(Notify("error", {"message": f"the reply failed: {ev.error or 'unknown error'}"}))
            out.append(PlaySound("error"))
        if self._need_response and not self._pending_tools():
            self._send_response_create(now, out)
            return
        if self._pending_tools():
            self.phase = Phase.SPEAKING if self._playing() else Phase.THINKING
            self._awaiting_response = False
            self._deadline = None
            return
        self._awaiting_response = False
        self._finish_reply(now, out)

    def _finish_reply(self, now: float, out: list[Action]) -> None:
        """The model's answer is complete: wait for it to be heard, then follow up."""
        if self._audio_in_reply or self._playing():
            self._play_token += 1
            self._draining = self._play_token
            self.phase = Phase.SPEAKING
            self._deadline = None
            out.append(AwaitPlayback(self._play_token))
        else:
            self._after_reply(now, out)

    def _after_reply(self, now: float, out: list[Action]) -> None:
        self._reply = None
        self._audio_in_reply = False
        out.append(ResetVad())
        self._deaf_until = now + self.cfg.echo_tail_s
        self._recent.clear()
        if self._purpose == "announce":
            self._close("announcement done", out)
            return
        if self._end_after_reply or now - self._session_started >= self.cfg.max_session_s:
            self._close("conversation ended" if self._end_after_reply else "session age limit", out)
            return
        if self.cfg.follow_up_s > 0:
            self.phase = Phase.FOLLOW_UP
            self._deadline = now + self.cfg.follow_up_s
        else:
            self.phase = Phase.OPEN
            self._deadline = now + self.cfg.idle_close_s

    # ------------------------------------------------------------------ tools

    def _start_tool(self, call_id: str, name: str, arguments: str, out: list[Action]) -> None:
        if call_id in self._calls:
            return
        self._calls[call_id] = False
        out.append(Notify("tool_call", {"name": name, "call_id": call_id}))
        out.append(RunTool(call_id, name, arguments))

    def _pending_tools(self) -> bool:
        return any(not sent for sent in self._calls.values())

    def _on_tool_finished(self, call_id: str, output: str, now: float, out: list[Action]) -> None:
        if call_id not in self._calls or self._calls[call_id] or not self._session_open:
            return
        self._calls[call_id] = True
        out.append(SendEvent(wire.function_output(call_id, output)))
        if self._pending_tools():
            return
        if self.phase not in (Phase.THINKING, Phase.SPEAKING):
            return  # the user moved on (barge-in): the output rides along with their next turn
        if self._active_response is not None:
            self._need_response = True  # never two responses at once: wait for response.done
            return
        self._send_response_create(now, out)

    def _send_response_create(self, now: float, out: list[Action]) -> None:
        self._need_response = False
        self._calls = {k: v for k, v in self._calls.items() if not v}
        out.append(SendEvent(wire.response_create()))
        playing = self._playing()
        self._expect_response(now)
        if playing:
            self.phase = Phase.SPEAKING

    # ------------------------------------------------------------------ interruption, stop, errors

    def _playing(self) -> bool:
        return self._pos.written_ms - self._pos.played_ms > 1.0

    def _barge_in(self, out: list[Action], *, server_cancels: bool = False) -> None:
        """Stop the reply now, tell the server what was really heard, drop its late audio."""
        played = self._pos.played_ms
        out.append(StopPlayback())
        if self._active_response is not None:
            if not server_cancels:
                out.append(SendEvent(wire.response_cancel()))
            self._cancelled.add(self._active_response)
            self._active_response = None
        if self._reply is not None:
            for item in self._reply.items:
                heard = min(max(played - item.start_ms, 0.0), item.received_ms)
                if heard < item.received_ms - 1:
                    out.append(SendEvent(wire.truncate(item.item_id, int(heard))))
            self._reply = None
        self._draining = None
        self._awaiting_response = False
        self._need_response = False
        out.append(Notify("interrupted", {}))

    def _stop(self, reason: str, out: list[Action]) -> None:
        if self.phase in (Phase.IDLE, Phase.DISABLED):
            out.append(StopPlayback())
            return
        if self._session_open and (self._active_response or self._reply):
            self._barge_in(out)
        else:
            out.append(StopPlayback())
        self._close(reason, out)

    def _close(self, reason: str, out: list[Action]) -> None:
        if self._session_open or self.phase is Phase.CONNECTING:
            out.append(CloseSession(self._session, reason))
        self._session_open = False
        self._to_idle(out)

    def _to_idle(self, out: list[Action]) -> None:
        self.phase = Phase.IDLE
        self._uplink.end()
        self._recent.clear()
        self._deadline = None
        self._reply = None
        self._active_response = None
        self._calls.clear()
        self._cancelled.clear()
        self._need_response = False
        self._awaiting_response = False
        self._end_after_reply = False
        self._draining = None

    def _on_session_failed(self, err: RealtimeError, now: float, out: list[Action]) -> None:
        was_open = self._session_open
        self._session_open = False
        code = err.code or ""
        if code == "session_expired" or getattr(err, "kind", None) == "session_expired":
            # the 60-minute cap: let what was received finish playing, then a fresh start next time
            log.info("session expired; the next wake word opens a new session")
            out.append(Notify("session_expired", {}))
            self._to_idle(out)
            return
        out.append(Notify("error", {"code": code or None, "message": str(err), "fatal": not err.retryable}))
        out.append(PlaySound("error"))
        if not err.retryable:
            log.error("Realtime endpoint refused us (%s): %s; conversations are disabled until restart",
                      code or "fatal", err)
            out.append(StopPlayback())
            self._to_idle(out)
            self.phase = Phase.DISABLED
            self.disabled_reason = str(err)
            return
        log.warning("Realtime session %s: %s", "dropped" if was_open else "could not open", err)
        self._to_idle(out)

    def _on_mute(self, muted: bool, out: list[Action]) -> None:
        if muted == self.muted:
            return
        if muted:
            self._stop("muted", out)
        self.muted = muted
        out.append(PlaySound("mute" if muted else "unmute"))

    # ------------------------------------------------------------------ time

    def _check_deadlines(self, now: float, out: list[Action]) -> None:
        if self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        match self.phase:
            case Phase.CONNECTING if self._opening_prompt is not None:
                out.append(Notify("error", {"message": "the service did not answer in time"}))
                out.append(PlaySound("error"))
                self._close("connect timeout", out)
            case Phase.CONNECTING:
                if self._uplink.spoke:
                    self._deadline = now + self.cfg.response_timeout_s  # still connecting; the app times out
                else:
                    log.info("nobody spoke after the wake word; closing")
                    self._close("no speech", out)
            case Phase.LISTENING:
                if self._uplink.spoke:
                    log.info("turn longer than %.0f s; ending it", self.cfg.max_turn_s)
                    if self.cfg.local_turns:
                        out.append(AppendAudio(self._uplink.speech_ended(self._last_t), final=True))
                        self._commit_turn(now, out)
                    else:
                        self._uplink.end()
                else:
                    log.info("nobody spoke; dropping the turn")
                    self._uplink.end()
                    out.append(SendEvent(wire.clear_input()))
                    if self.turns == 0:
                        self._close("no speech", out)
                    else:
                        self.phase = Phase.OPEN
                        self._deadline = now + self.cfg.idle_close_s
            case Phase.THINKING:
                log.warning("no reply within %.0f s", self.cfg.response_timeout_s)
                out.append(Notify("error", {"message": "no reply from the service"}))
                out.append(PlaySound("error"))
                self._close("reply timeout", out)
            case Phase.FOLLOW_UP:
                remaining = self.cfg.idle_close_s - self.cfg.follow_up_s
                if remaining <= 0:
                    self._close("idle", out)
                else:
                    self.phase = Phase.OPEN
                    self._deadline = now + remaining
            case Phase.OPEN:
                self._close("idle", out)
            case _:
                pass
