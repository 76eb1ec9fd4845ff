"""The core's state and the moves every part of it makes: turns, sounds, barge-in, closing. The
conversation's event handlers (``conversation``, ``replies``, ``timeouts``) build on it."""

from __future__ import annotations

from typing import Any, Protocol

from speaker.core import outputs as O
from speaker.core import wire
from speaker.core.actions import (
    Action,
    AppendAudio,
    AwaitPlayback,
    CloseSession,
    Listen,
    ResetVad,
    SendEvent,
    StopPlayback,
)
from speaker.core.announce import shown
from speaker.core.approval import McpQuestion
from speaker.core.config import CoreConfig
from speaker.core.duplex import Duplex
from speaker.core.feedback import Feedback, Ring
from speaker.core.playback import Playback
from speaker.core.reply import Reply
from speaker.core.requests import Requests
from speaker.core.responses import ResponseGate
from speaker.core.session import SessionStats
from speaker.core.state import Phase, State
from speaker.core.uplink import Uplink
from speaker.realtime import events as rt

Step = Action | O.Output



class McpApprovals(Protocol):
    """Answers remote MCP approval requests by the configured policy (``speaker.mcp.remote``)."""

    def reset(self) -> None: ...

    def handle(self, event: rt.McpEvent) -> dict[str, Any] | McpQuestion | None:
        """The client event that answers (policy), a question for the user (``approval``), or None."""


class CoreBase:
    """State shared by the parts of the conversation core (see ``Conversation``)."""

    def __init__(self, cfg: CoreConfig, *, mcp: McpApprovals | None = None) -> None:
        self.cfg = cfg
        self._mcp = mcp
        self.phase = Phase.IDLE
        self.muted = False
        self.disabled_reason: str | None = None
        self._disabled_until = 0.0
        self._session = 0
        self._session_open = False
        self._stats: SessionStats | None = None
        self._uplink = Uplink(pad_ms=cfg.pad_ms, hold_ms=cfg.hold_ms, tail_ms=cfg.tail_ms,
                              preroll_ms=cfg.preroll_ms, turn_keep_s=cfg.max_turn_s,
                              ring_keep_s=cfg.takeover_s + 1.0 if cfg.arbitrate else 0.0)
        self._playback = Playback()
        self._feedback = Feedback(dict(cfg.sound_s), cfg.echo_tail_s)
        self._ring = Ring(cfg.timer_pause_s, cfg.timer_max_ring_s)
        self._gate = ResponseGate()
        self._requests = Requests()
        self._last_t = 0.0
        self._deadline: float | None = None
        self._deaf_until = 0.0
        self._deaf_until_t = 0.0
        self._reply: Reply | None = None
        self._play_token = 0
        self._draining: int | None = None
        self._end_after_reply = False
        self._purpose = "conversation"
        self._opening_prompt: str | None = None
        self._ask_id: str | None = None
        self._thinking_at: float | None = None
        self._visible = State.IDLE
        self._listen = Listen(wake=True, vad=False)
        self._ended: list[O.SessionEnded] = []
        self._duplex = Duplex(cfg)

    # ------------------------------------------------------------------ public

    @property
    def session(self) -> int:
        return self._session

    @property
    def state(self) -> State:
        return shown(self.phase, self._purpose, self.muted)

    @property
    def uplink_seconds(self) -> float:
        """Microphone audio sent in the current session (seconds at 16 kHz)."""
        return self._uplink.sent_seconds

    @property
    def turns(self) -> int:
        return self._stats.turns if self._stats is not None else 0

    def _send(self, data: bytes, out: list[Step]) -> None:
        if data:
            out.append(AppendAudio(data))

    # ------------------------------------------------------------------ wake word

    def _begin_turn(self, now: float, out: list[Step], *, speaking: bool) -> None:
        self.phase = Phase.LISTENING
        self._deadline = now + (self.cfg.max_turn_s if speaking else self.cfg.no_speech_timeout_s)
        self._send(self._uplink.begin(ready=True, speaking=speaking), out)

    # ------------------------------------------------------------------ turn end & replies

    def _commit_turn(self, now: float, out: list[Step]) -> None:
        self._uplink.end()
        self._count_turn(out)
        out.append(SendEvent(wire.commit()))
        if self._holds_response():
            pass  # the answer to a confirmation question: its transcript decides first (``confirm``)
        elif self._gate.cancelled:
            # a barged-in reply is still being cancelled: a second response.create now would be refused
            # (conversation_already_has_active_response); ask once its response.done has arrived
            self._gate.need_response = True
        else:
            out.append(SendEvent(wire.response_create()))
        self._expect_response(now)

    def _holds_response(self) -> bool:
        return False

    def _roll_over(self, now: float, out: list[Step]) -> bool:
        return False  # ``memory``'s

    def _count_turn(self, out: list[Step]) -> None:
        if self._stats is not None:
            self._stats.turns += 1
            out.append(O.TurnCommitted(self._stats.turns))

    def _expect_response(self, now: float) -> None:
        self.phase = Phase.THINKING
        self._gate.awaiting = True
        self._reply = None
        self._deadline = now + self.cfg.response_timeout_s
        if self._stats is not None:
            self._stats.requested(now)

    def _await_playback(self, out: list[Step]) -> None:
        self._play_token += 1
        self._draining = self._play_token
        out.append(AwaitPlayback(self._play_token))

    def _after_reply(self, now: float, out: list[Step]) -> None:
        self._reply = None
        out.append(ResetVad())
        # on both clocks: a file fed faster than real time runs ahead of the core's clock, and a window on
        # that clock alone swallowed the next wake's whole request (speech onsets are stream times)
        self._deaf_until = now + self.cfg.echo_tail_s
        self._deaf_until_t = self._last_t + self.cfg.echo_tail_s
        self._uplink.forget()
        if self._purpose == "announce":
            self._close("announcement done", now, out)
            return
        opened = self._stats.opened if self._stats is not None else now
        if self._end_after_reply or now - opened >= self.cfg.max_session_s:
            if not self._end_after_reply and self._roll_over(now, out):
                return  # a fresh session, seeded with the summary (``memory``)
            self._close("conversation ended" if self._end_after_reply else "session age limit", now, out)
            return
        if self.cfg.follow_up_s > 0:
            self.phase = Phase.FOLLOW_UP
            self._deadline = now + self.cfg.follow_up_s
        else:
            self.phase = Phase.OPEN
            self._deadline = now + self.cfg.idle_close_s

    # ------------------------------------------------------------------ tools

    def _sound(self, name: str, now: float, out: list[Step]) -> float:
        action, seconds = self._feedback.play(name, now, self._last_t, self._playback.ahead_s)
        if action is not None:
            self._playback.wrote(seconds * 1000)
            out.append(action)
        return seconds

    def _clear_playback(self, out: list[Step]) -> None:
        self._playback.cleared()
        self._feedback.cancel()
        out.append(StopPlayback())

    def _barge_in(self, out: list[Step], *, server_cancels: bool = False) -> None:
        """Stop the reply now, tell the server what was really heard, drop its late audio."""
        played = self._playback.played_ms
        self._clear_playback(out)
        if self._gate.active is not None and not server_cancels:
            out.append(SendEvent(wire.response_cancel()))
        self._gate.cancel_active()
        if self._reply is not None:
            out.extend(self._reply.truncations(played))
            self._reply = None
        self._draining = None
        out.append(O.Interrupted())

    def _close(self, reason: str, now: float, out: list[Step]) -> None:
        if self._session_open or self.phase is Phase.CONNECTING:
            out.append(CloseSession(self._session, reason))
        self._session_open = False
        self._to_idle(reason, now, out)

    def _to_idle(self, reason: str, now: float, out: list[Step]) -> None:
        self.phase = Phase.IDLE
        self._uplink.end()
        self._deadline = None
        self._reply = None
        self._gate.reset()
        self._thinking_at = None
        self._end_after_reply = False
        self._draining = None
        self._opening_prompt = None
        if self._ask_id is not None:
            out.append(O.Answer(self._ask_id, None))  # the conversation ended without an answer
            self._ask_id = None
        stats, self._stats = self._stats, None
        if stats is not None:  # told after the state change it causes (``handle``)
            self._ended.append(stats.ended(reason, now, self._uplink.sent_seconds))
