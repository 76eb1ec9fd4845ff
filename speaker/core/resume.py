"""Resume in the same wake: a Realtime session lost before or during the answer is replaced once, at once.

When the connection drops (1006, 1011, a network error: any *retryable* failure), the service ends the
session (``session_expired``, the 60-minute close) or no reply comes in time (the THINKING deadline), the
user should not have to say the wake word and repeat the question. So the core opens a fresh session at
once, with the same wake word's settings and a short context in its instructions (the texts this
conversation saw, the tools this turn already ran), and gives it the user's turn again:

- the turn was **committed** (thinking, or speaking an answer that had not all arrived): the audio the
  uplink sent for the turn (it keeps a bounded copy, at most ``max_turn_s``) goes up again, then commit
  and ``response.create``;
- the turn was **still being spoken** (listening, e.g. the follow-up that met the session's expiry): the
  uplink rewinds, so what it sent is held again in front of what the user is still saying, and the turn
  goes on in the new session as if it had only just connected;
- the session was lost with **no turn in progress** (in the follow-up window, or while a complete answer
  plays): nothing is opened yet (an open session costs money); the follow-up window goes on, and if the
  user speaks (or says the wake word) in it, a fresh session seeded with the context takes their speech.

At most one resume per user turn (``Uplink.turn``): if the fresh session fails too, the usual path runs
(the error sound, back to idle). Fatal refusals are never resumed. Each session's figures are its own
(the lost one ends with its ``SessionEnded`` here, the new one counts its own turn, audio and cost).

The part already heard. Audio that arrived before the loss is not cut: it plays to its end, and the
fresh answer follows it. The new session's instructions say how much of the previous answer the user
heard: its text when the reply's transcript had arrived (``response.output_audio_transcript.done``),
otherwise only its length in seconds (and roughly how many words), with the request to continue rather
than start over. Without the transcript the model does not know its own earlier words, so the opening
of the answer may be repeated (the transcript's deltas are not decoded yet; with them the heard text
would be known).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from speaker.core import outputs as O
from speaker.core import wire
from speaker.core.actions import AppendAudio, CloseSession, OpenSession, ResetVad, RunTool, SendEvent
from speaker.core.base import CoreBase, McpApprovals, Step
from speaker.core.config import CoreConfig
from speaker.core.state import Phase
from speaker.errors import RealtimeError

HISTORY = 8
"""Texts of the conversation kept for the context (the newest)."""
TEXT_CHARS = 400
TOOL_CHARS = 300
WORDS_PER_S = 2.5
"""A speaking pace, to tell the model roughly how much of its answer was heard."""
HEARD_MIN_S = 0.3
"""Less than this of an answer is 'nothing heard'."""


@dataclass
class _Tool:
    name: str
    arguments: str
    output: str | None = None


def _cut(text: str, limit: int = TEXT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


class ResumeState:
    """What a fresh session needs to carry on, gathered from the core's own steps (``observe``)."""

    def __init__(self) -> None:
        self.history: deque[tuple[str, str]] = deque(maxlen=HISTORY)
        self.answer: str | None = None
        """The transcript of the answer to the current turn, if it came."""
        self.tools: dict[str, _Tool] = {}
        """Tool calls of the current turn."""
        self.wake_model: str | None = None
        self.used_turn = -1
        """The uplink turn that was resumed already (never twice)."""
        self.pending: bytes | None = None
        """A committed turn's audio, for the fresh session once it is ready."""
        self.detached: str | None = None
        """Why the session was lost in the follow-up window (a fresh one opens when the user speaks)."""
        self.fresh_session = 0
        """The session opened by the last resume (its opening keeps the conversation's history)."""
        self.count = 0

    def observe(self, steps: Iterable[Step]) -> None:
        for step in steps:
            match step:
                case O.UserTranscript(text=text) if text.strip():
                    self.history.append(("user", _cut(text)))
                case O.ReplyText(text=text) if text.strip():
                    self.history.append(("you", _cut(text)))
                    self.answer = text
                case O.TurnCommitted():
                    self.answer = None
                    self.tools.clear()
                case RunTool(call_id=call_id, name=name, arguments=arguments):
                    self.tools[call_id] = _Tool(name, _cut(arguments, TOOL_CHARS))
                case O.ToolDone(call_id=call_id, output=output) if call_id in self.tools:
                    self.tools[call_id].output = _cut(output, TOOL_CHARS)
                case O.SessionOpened(session=sid, wake_model=model):
                    if sid != self.fresh_session:  # a new conversation: its context starts empty
                        self.history.clear()
                        self.tools.clear()
                        self.answer = None
                        self.wake_model = model
                case _:
                    pass

    def instructions(self, lost: str, *, heard_s: float | None) -> str:
        """The fresh session's extra instructions. ``heard_s`` None: the user's next request is still to
        come (the follow-up window); otherwise how much of the interrupted answer was heard."""
        lines = [f"This session continues a conversation whose previous connection was lost ({lost}). "
                 "Carry on naturally; do not mention the interruption and never ask the user to repeat "
                 "themselves."]
        if self.history:
            lines.append("What was said earlier in this conversation, oldest first:")
            lines += [f"- {who}: {text}" for who, text in self.history]
        if heard_s is None:
            lines.append("The user's next request follows as audio: answer it.")
            return "\n".join(lines)
        if self.tools:
            lines.append("For the request that follows you already called these tools; do not call them "
                         "again, use their results:")
            lines += [f"- {t.name}({t.arguments}) -> {t.output if t.output is not None else 'result unknown'}"
                      for t in self.tools.values()]
        if heard_s < HEARD_MIN_S:
            lines.append("The user's request follows as audio; they heard none of your answer yet: answer it.")
        elif self.answer:
            lines.append("You had begun answering the request that follows as audio, and the user heard "
                         f"this part of your answer: \"{_cut(self.answer, 2 * TEXT_CHARS)}\". Continue from "
                         "where it ends without repeating any of it; if nothing was missing, just confirm in "
                         "a few words.")
        else:
            lines.append("You had begun answering the request that follows as audio, and the user already "
                         f"heard the first {heard_s:.1f} s of your spoken answer (about "
                         f"{max(1, round(heard_s * WORDS_PER_S))} words). Do not start over: no greeting or "
                         "preamble, skip what they heard and continue the answer.")
        return "\n".join(lines)


class ResumeHandling(CoreBase):
    """The core's moves when its session is lost (see the module docstring)."""

    def __init__(self, cfg: CoreConfig, *, mcp: McpApprovals | None = None) -> None:
        super().__init__(cfg, mcp=mcp)
        self._resume = ResumeState()
        self._unavailable: str | None = "not known since the start"
        """The fatal reason told as ``Unavailable``: an ``Available`` follows the next open session (and
        the first one after the start: a refusal an earlier run remembered is over then)."""

    def _new_session(self, purpose: str, now: float, out: list[Step], *, wake_model: str | None = None,
                     ask_id: str | None = None) -> None:
        raise NotImplementedError  # the conversation's (speaker.core.conversation)

    # ------------------------------------------------------------------ hooks

    def _after_loss(self, err: RealtimeError, expired: bool, now: float, out: list[Step]) -> bool:
        """The open session failed. True: handled here (resumed, or the follow-up window goes on without
        a session); False: the usual path (error sound, idle)."""
        if self._purpose != "conversation" or not (err.retryable or expired):
            return False
        why = "session expired" if expired else f"connection lost ({err.code or 'network'})"
        phase = self.phase
        if phase in (Phase.FOLLOW_UP, Phase.OPEN) or (phase is Phase.SPEAKING and self._draining is not None):
            handled = self._detach(why, now, out)
        elif phase is Phase.LISTENING:
            handled = self._resume_turn(why, committed=False, now=now, out=out)
        elif phase in (Phase.THINKING, Phase.SPEAKING):
            handled = self._resume_turn(why, committed=True, now=now, out=out)
        else:
            handled = False
        if handled and expired:
            out.append(O.Expired())
        return handled

    def _resume_stalled(self, now: float, out: list[Step]) -> bool:
        """The THINKING deadline passed with no reply: once per turn, a fresh session is asked instead."""
        if self._purpose != "conversation" or not self._session_open or self._uplink.turn == self._resume.used_turn:
            return False
        out.append(O.Note(f"no reply within {self.cfg.response_timeout_s:.0f} s; asking a fresh session", "warning"))
        out.append(CloseSession(self._session, "no reply; resuming"))
        self._session_open = False
        return self._resume_turn("no reply in time", committed=True, now=now, out=out)

    def _resume_ready(self, now: float, out: list[Step]) -> bool:
        """The fresh session is ready: a committed turn goes up again and is answered. False: nothing
        pending (the usual ``SessionReady`` path goes on: a rewound turn is sent from the uplink)."""
        if self._unavailable is not None:
            self._unavailable = None
            out.append(O.Available())
        self._resume.detached = None
        audio, self._resume.pending = self._resume.pending, None
        if audio is None:
            return False
        self._uplink.sent_bytes += len(audio)
        if audio:
            out.append(AppendAudio(audio, final=True))
        self._count_turn(out)
        out.append(SendEvent(wire.commit()))
        out.append(SendEvent(wire.response_create()))
        self._expect_response(now)
        return True

    def _reopen_for_follow_up(self, t: float | None, now: float, out: list[Step]) -> bool:
        """The user speaks (``t``: speech onset) or says the wake word (``t`` None) in a follow-up window
        whose session was lost: a fresh session with the context takes this turn."""
        why = self._resume.detached
        if why is None or self._session_open or self.phase not in (Phase.FOLLOW_UP, Phase.OPEN, Phase.SPEAKING):
            return False
        self._resume.detached = None
        speaking = t is not None
        if not speaking:
            out.append(ResetVad())
        self._uplink.begin(ready=False, speaking=speaking)
        if t is not None:
            self._uplink.speech_started(t)
        self._deadline = now + (self.cfg.max_turn_s if speaking else self.cfg.no_speech_timeout_s)
        self._open_fresh(why, self._resume.instructions(why, heard_s=None), now, out, turn=False)
        return True

    def _refused(self, reason: str, code: str | None, out: list[Step]) -> None:
        """A fatal refusal: told once as ``Unavailable`` (Home Assistant's problem entity)."""
        self._unavailable = reason
        out.append(O.Unavailable(reason, code))

    # ------------------------------------------------------------------ moves

    def _resume_turn(self, why: str, *, committed: bool, now: float, out: list[Step]) -> bool:
        if self._uplink.turn == self._resume.used_turn:
            return False  # this turn was resumed already: no loop
        self._resume.used_turn = self._uplink.turn
        heard_s = sum(item.received_ms for item in self._reply.items) / 1000 if committed and self._reply else 0.0
        text = self._resume.instructions(why, heard_s=heard_s)
        self._end_lost(why, now)
        if committed:
            self._resume.pending = self._uplink.turn_audio()
            self._deadline = now + self.cfg.response_timeout_s
        else:
            self._uplink.rewind()  # the turn's deadline stays
        out.append(O.Note(f"Realtime session lost ({why}); resuming the turn in a fresh session "
                          f"({'answered again' if committed else 'still listening'}; "
                          f"{heard_s:.1f} s of the answer had arrived)", "warning"))
        self._open_fresh(why, text, now, out, turn=True)
        return True

    def _detach(self, why: str, now: float, out: list[Step]) -> bool:
        self._end_lost(why, now)
        self._resume.detached = why
        out.append(O.Note(f"Realtime session lost in the follow-up window ({why}); a fresh one opens if "
                          "the user speaks", "warning"))
        return True

    def _end_lost(self, why: str, now: float) -> None:
        """The lost session's figures end here; what it had in flight is forgotten."""
        self._session_open = False
        self._gate.reset()
        self._reply = None
        self._thinking_at = None
        stats, self._stats = self._stats, None
        if stats is not None:
            self._ended.append(stats.ended(why, now, self._uplink.sent_seconds))

    def _open_fresh(self, why: str, instructions: str, now: float, out: list[Step], *, turn: bool) -> None:
        self._resume.fresh_session = self._session + 1
        self._resume.count += 1
        self._new_session("conversation", now, out, wake_model=self._resume.wake_model)
        self.phase = Phase.CONNECTING
        out.append(O.Resumed(why, self._session, turn))
        out.append(OpenSession(self._session, wake_model=self._resume.wake_model, instructions=instructions))
