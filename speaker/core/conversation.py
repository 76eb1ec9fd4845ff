"""The conversation core: a sans-I/O state machine, the one owner of every conversation decision.

It is fed typed events (microphone frames, wake word, VAD, Realtime events, tool results, playback,
commands, timers, time) through ``handle(event, now)`` and returns, in order, the actions the runner
must carry out (``speaker.core.actions``) and the facts observers are told (``speaker.core.outputs``).
It never awaits a socket or a device and imports no I/O module, so a test drives it with a script of
events and reads back what it decided.

Phases::

    IDLE ──wake──► CONNECTING ──ready──► LISTENING ──speech end──► THINKING ──audio──► SPEAKING
      ▲                                     ▲                        │  ▲ tools           │ drained
      │                                     └──────── speech ──── FOLLOW_UP ◄─────────────┘
      └────────── idle_close_s ─────────── OPEN ◄── follow_up_s ───┘

The Realtime session is open in every phase but IDLE and DISABLED, and closed as soon as the
conversation goes quiet: an open conversation is what costs money. Besides the phases it decides what
the microphone feeds (``Listen``), its own sounds and when the microphone is deaf to them, the thinking
sound of a slow tool, a finished timer's ring and its dismissal, mute, announcements and asks.
"""

from __future__ import annotations

from collections.abc import Sequence

from speaker.core import feedback as fb
from speaker.core import outputs as O
from speaker.core import wire
from speaker.core.actions import (
    Action,
    AppendAudio,
    DismissTimers,
    Listen,
    OpenSession,
    ResetVad,
    SendEvent,
)
from speaker.core.announce import keeps_playing_when_muted, refused_when_muted
from speaker.core.arbitration import ArbitrationHandling
from speaker.core.base import McpApprovals, Step
from speaker.core.budget import BudgetHandling
from speaker.core.config import CoreConfig
from speaker.core.events import (
    Announce,
    Arbitrated,
    CoreEvent,
    EchoStatus,
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
    TimersQuiet,
    TimersRinging,
    ToolFinished,
    Wake,
)
from speaker.core.replies import ReplyHandling
from speaker.core.requests import Requests
from speaker.core.session import SessionStats
from speaker.core.state import ACTIVE, Phase, State
from speaker.core.timeouts import TimeHandling
from speaker.errors import RealtimeError
from speaker.listen.events import SpeechEnded, SpeechStarted

__all__ = ["Conversation", "CoreConfig", "McpApprovals", "Phase", "State", "Step", "actions"]


class Conversation(ReplyHandling, TimeHandling, BudgetHandling, ArbitrationHandling):
    """The state machine. ``handle`` is the only entry point."""

    @property
    def quiet(self) -> bool:
        """No conversation is open or waiting to start."""
        return self.phase in (Phase.IDLE, Phase.DISABLED) and not self._requests.pending and not self.claiming

    def handle(self, event: CoreEvent, now: float) -> list[Step]:
        out: list[Step] = []
        if not self._budget_intercepts(event, now, out):
            self._dispatch(event, now, out)
        self._budget_after(event, now, out)
        self._confirm_after(now, out)
        self._check_deadlines(now, out)
        self._check_feedback(now, out)
        if self.phase is Phase.IDLE and not self.claiming:
            request = self._requests.next(announcements_only=self.muted)
            if request is not None:
                self._start_requested(request, now, out)
        visible = self.state
        if visible != self._visible:
            self._visible = visible
            out.append(O.StateChanged(visible))
        if self._ended:
            out.extend(self._ended)
            self._ended.clear()
        self._memory_after(now, out)
        out.extend(self._duplex.settle(self.phase in (Phase.SPEAKING, Phase.THINKING)))
        self._update_listen(now, out)
        if out:
            self._resume.observe(out)
        return out

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, event: CoreEvent, now: float, out: list[Step]) -> None:
        match event:
            case MicFrame(pcm=pcm, t=t, played_ms=played):
                self._playback.heard(played)
                self._duplex.frame(event.echo, self._playback)
                self._update_listen(now, out, t)
                self._on_mic(bytes(len(pcm)) if self._listen.blank else pcm, t, out, now)
            case Wake():
                self._on_wake(event, now, out)
            case SpeechStarted(t=t):
                self._on_speech_started(t, now, out)
            case SpeechEnded(t=t):
                self._on_speech_ended(t, now, out)
            case SessionReady(session=sid) if sid == self._session and self.phase is Phase.CONNECTING:
                self._on_ready(now, out)
            case SessionFailed(session=sid, error=err) if sid == self._session:
                self._on_session_failed(err, now, out)
            case SessionClosed(session=sid) if sid == self._session:
                if self._session_open:
                    self._session_open = False
                    if self.phase not in (Phase.IDLE, Phase.DISABLED):
                        self._to_idle("closed by the service", now, out)
            case ServerEvent(session=sid, event=ev) if sid == self._session and self._session_open:
                self._on_server(ev, now, out)
            case ToolFinished(call_id=call_id, output=output, ok=ok):
                self._on_tool_finished(call_id, output, ok, now, out)
            case PlaybackDrained(token=token, played_ms=played):
                self._playback.heard(played)
                if token == self._draining:
                    self._draining = None
                    self._after_reply(now, out)
            case Stop(reason=reason, timers=timers):
                if timers and self._ring.active:
                    self._ring.stop()
                    out.append(DismissTimers("stop"))
                self._stop(reason, now, out)
            case EndAfterReply():
                self._end_after_reply = True
            case SetMuted(muted=muted):
                self._on_mute(muted, now, out)
            case Announce() | StartConversation():
                if self.muted and refused_when_muted(event, self.cfg.announce_when_muted):
                    out.append(O.Problem("muted: request ignored"))
                elif self.phase is Phase.DISABLED and not self._cooled_off(now, out):
                    out.append(O.Problem(f"conversation unavailable: {self.disabled_reason}"))
                else:
                    self._requests.add(event)  # started as soon as the speaker is idle
            case TimersRinging():
                self._ring.start(now)
            case TimersQuiet():
                if self._ring.active:
                    self._ring.stop()
                    if self.phase in (Phase.IDLE, Phase.DISABLED):
                        self._clear_playback(out)  # cut a ring that is still sounding
            case Tick(played_ms=played):
                self._playback.heard(played)
            case Arbitrated():
                self._on_arbitrated(event, now, out)
            case EchoStatus():
                out.extend(self._duplex.on_status(event))
            case _:
                pass  # stale session/playback events

    # ------------------------------------------------------------------ microphone & VAD

    def _update_listen(self, now: float, out: list[Step], t: float | None = None) -> None:
        listen = Listen(wake=not self.muted, vad=self.phase in ACTIVE and not self.muted,
                        blank=self._feedback.deaf(now, self._last_t if t is None else t))
        if listen != self._listen:
            self._listen = listen
            out.append(listen)

    def _on_mic(self, pcm: bytes, t: float, out: list[Step], now: float = 0.0) -> None:
        self._last_t = t
        self._uplink.hear(pcm, t)
        if self.phase is Phase.IDLE or self.phase is Phase.DISABLED:
            return
        if self.phase in (Phase.SPEAKING, Phase.THINKING) and self._duplex.pending and self._duplex.speech \
                and self.cfg.local_turns and self._duplex.may_interrupt(self._playback):
            self._speech_barge_in(now, out)  # speech over the reply has risen above its echo
        if self.phase in (Phase.SPEAKING, Phase.THINKING) and not self._duplex.speech:
            return  # half duplex: while a reply plays the microphone hears the speaker
        data = self._uplink.feed(pcm, t)
        if data:
            out.append(AppendAudio(data))

    def _on_speech_started(self, t: float, now: float, out: list[Step]) -> None:
        if now < self._deaf_until and t < self._deaf_until_t:
            return  # the echo of our reply
        if self.phase is Phase.FOLLOW_UP or (self.phase is Phase.OPEN and not self.cfg.local_turns):
            if self._reopen_for_follow_up(t, now, out):
                return  # the session was lost in the follow-up window: a fresh one takes this turn
            self._begin_turn(now, out, speaking=True)
            self._send(self._uplink.speech_started(t), out)
            return
        if self.phase in (Phase.SPEAKING, Phase.THINKING):
            out.extend(self._duplex.talked_over())  # pending: checked again on every frame (_on_mic)
            if self._duplex.speech and self.cfg.local_turns and self._duplex.may_interrupt(self._playback):
                self._speech_barge_in(now, out)
            return
        if self.phase in (Phase.CONNECTING, Phase.LISTENING):
            self._send(self._uplink.speech_started(t), out)

    def _speech_barge_in(self, now: float, out: list[Step]) -> None:
        """Plain speech over the reply: stop it; the turn starts with the uplink's pre-roll."""
        self._duplex.pending = False
        self._barge_in(out)
        self._begin_turn(now, out, speaking=True)

    def _on_speech_ended(self, t: float, now: float, out: list[Step]) -> None:
        self._duplex.pending = False  # whoever talked over the reply stopped
        if self.phase not in (Phase.CONNECTING, Phase.LISTENING) or not self._uplink.speaking:
            return
        data = self._uplink.speech_ended(t)
        if self.phase is Phase.CONNECTING:
            return  # committed on SessionReady
        if data or not self.cfg.local_turns:
            out.append(AppendAudio(data, final=True))
        if self.cfg.local_turns:
            self._commit_turn(now, out)

    def _on_wake(self, ev: Wake, now: float, out: list[Step], *, since: float | None = None) -> None:
        if self.muted:
            return
        if self._ring.active:
            # the wake word stops a ringing timer; it opens no conversation
            out.append(O.Note(f"wake word {ev.model} stops the ringing timer"))
            out.append(DismissTimers("wake"))
            self._ring.stop()
            if self.phase in (Phase.IDLE, Phase.DISABLED):
                self._clear_playback(out)
            return
        if self.phase is Phase.DISABLED and not self._cooled_off(now, out):
            self._sound(fb.ERROR, now, out)
            out.append(O.Problem(f"conversation unavailable: {self.disabled_reason}"))
            return
        if self.phase in (Phase.LISTENING, Phase.CONNECTING):
            return  # already listening to this user
        if self.phase in (Phase.SPEAKING, Phase.THINKING):
            if self.cfg.barge_in == "off":
                return
            self._barge_in(out)
        if since is None and self.phase is Phase.IDLE and self._claim_wake(ev, now, out):
            return  # multi-room: answered only if the other speakers agree (``Arbitrated``)
        if self.phase is Phase.IDLE and self._refuse_over_budget("conversation", now, out):
            return  # no session: the speaker said locally that the budget is used up
        out.append(O.WakeHeard(ev.model, round(ev.score, 4)))
        self._sound(fb.WAKE, now, out)
        if self.phase is Phase.IDLE:
            self._new_session("conversation", now, out, wake_model=ev.model)
            self.phase = Phase.CONNECTING
            self._uplink.begin(ready=False, since=since)
            self._deadline = now + self.cfg.no_speech_timeout_s
            out.append(OpenSession(self._session, wake_model=ev.model, transcribe=self._confirm_transcribe))
            return
        if self._reopen_for_follow_up(None, now, out):
            return
        # the session is open (follow-up, open, or a barge-in just now): a new turn. The VAD has been
        # hearing the wake word (and maybe our own reply) as speech: start it afresh so the request that
        # follows gets its own start and end.
        out.append(ResetVad())
        self._begin_turn(now, out, speaking=False)

    def _new_session(self, purpose: str, now: float, out: list[Step], *, wake_model: str | None = None,
                     ask_id: str | None = None) -> None:
        self._session += 1
        self._session_open = False
        self._uplink.sent_bytes = 0
        self._stats = SessionStats(self._session, purpose, now, self.cfg.pricing)
        self._purpose = purpose
        self._ask_id = ask_id
        self._opening_prompt = None
        if self._mcp is not None:
            self._mcp.reset()
        out.append(O.SessionOpened(self._session, purpose, wake_model, ask_id))

    def _start_requested(self, req: Announce | StartConversation, now: float, out: list[Step]) -> None:
        """An announcement or a conversation the outside world asked for (MQTT say/ask)."""
        if isinstance(req, Announce):
            self._new_session("announce", now, out)
            self._opening_prompt = ("Say exactly the following text, word for word, and nothing else: "
                                    + req.text)
            out.append(O.Announcing(req.text))
            if req.preannounce:
                self._sound(fb.PREANNOUNCE, now, out)
            out.append(OpenSession(self._session, purpose="announce", instructions=Requests.ANNOUNCER))
        else:
            self._new_session("start", now, out, ask_id=req.ask_id)
            self._opening_prompt = req.instructions
            out.append(OpenSession(self._session, purpose="start", instructions=req.instructions,
                                   transcribe=req.ask_id is not None))
        self.phase = Phase.CONNECTING
        self._deadline = now + self.cfg.response_timeout_s

    def _on_ready(self, now: float, out: list[Step]) -> None:
        self._session_open = True
        self._memory_seed(out)  # the earlier exchange first, before any response.create
        if self._resume_ready(now, out):
            return  # a resumed turn went up again
        if self._opening_prompt is not None:
            # announce / start: the model speaks first
            out.append(SendEvent(wire.response_create(self._opening_prompt)))
            self._opening_prompt = None
            self._expect_response(now)
            return
        self._send(self._uplink.ready(), out)
        self.phase = Phase.LISTENING
        if self.cfg.local_turns and self._uplink.spoke and not self._uplink.speaking:
            self._commit_turn(now, out)  # the user finished talking while we connected

    def _stop(self, reason: str, now: float, out: list[Step]) -> None:
        if self.phase in (Phase.IDLE, Phase.DISABLED):
            self._clear_playback(out)
            return
        if self._session_open and (self._gate.active or self._reply):
            self._barge_in(out)
        else:
            self._clear_playback(out)
        self._close(reason, now, out)

    def _on_session_failed(self, err: RealtimeError, now: float, out: list[Step]) -> None:
        was_open = self._session_open
        self._session_open = False
        self._release_failed(was_open, out)
        code = err.code or ""
        expired = code == "session_expired" or getattr(err, "kind", None) == "session_expired"
        if was_open and self._after_loss(err, expired, now, out):
            return  # resumed in the same wake (speaker.core.resume)
        if expired:
            # the 60-minute cap: let what was received finish playing, then a fresh start next time
            out.append(O.Note("session expired; the next wake word opens a new session"))
            out.append(O.Expired())
            self._to_idle("session expired", now, out)
            return
        out.append(O.Problem(str(err), code or None, fatal=not err.retryable))
        self._sound(fb.ERROR, now, out)
        if not err.retryable:
            retry = self.cfg.fatal_retry_s
            out.append(O.Note(f"Realtime endpoint refused us ({code or 'fatal'}): {err}; no reconnect loop: "
                              f"the first wake word after {retry / 60:.0f} min tries once more", "error"))
            self._clear_playback(out)
            self._refused(str(err), code or None, out)
            self._to_idle("refused", now, out)
            self.phase = Phase.DISABLED
            self.disabled_reason = str(err)
            self._disabled_until = now + retry
            return
        out.append(O.Note(f"Realtime session {'dropped' if was_open else 'could not open'}: {err}", "warning"))
        self._to_idle("dropped" if was_open else "could not open", now, out)

    def _cooled_off(self, now: float, out: list[Step]) -> bool:
        """After a fatal refusal (bad key, no quota…) nothing loops; once ``fatal_retry_s`` has passed the
        next wake word (or request) tries once more, so a fixed key is picked up without a restart."""
        if now < self._disabled_until:
            return False
        out.append(O.Note(f"trying the Realtime endpoint again after it refused us ({self.disabled_reason})"))
        self.phase = Phase.IDLE
        self.disabled_reason = None
        return True

    def _on_mute(self, muted: bool, now: float, out: list[Step]) -> None:
        if muted == self.muted:
            return
        if muted and not keeps_playing_when_muted(self._purpose, self.cfg.announce_when_muted):
            self._stop("muted", now, out)
        self.muted = muted
        self._sound(fb.MUTE if muted else fb.UNMUTE, now, out)

    # ------------------------------------------------------------------ time


def actions(steps: Sequence[Step]) -> list[Action]:
    """The I/O actions among ``steps`` (tests and benches)."""
    return [s for s in steps if not isinstance(s, O.Output)]
