"""Spoken confirmation before a risky tool runs (``confirm: true`` in a tool pack: locks, garage doors).

A call of such a tool is held: nothing runs (so nothing is published) until the user said yes aloud.

1. The response carrying the call ends: the core asks the question (a ``response.create`` whose
   instructions are the question, with no tools: the model says it in its own voice).
2. The question heard, the speaker listens without a wake word (``confirm_listen_s``).
3. The user's answer is committed; no ``response.create`` goes with it (the model must not act on it
   first). Its input transcription (requested for every session when confirm tools exist) is checked
   here against yes/no words in the configured language: only a short, plain yes counts. No, silence,
   an answer that never got a transcript, or anything unclear is a no.
4. Yes: the tool runs (``RunTool``), its output goes to the model as usual. No: the function output
   tells the model that the user did not confirm, and nothing ran.

The model's own words never decide: only the user's transcribed answer does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from speaker.core import approval, wire
from speaker.core import outputs as O
from speaker.core.actions import SendEvent
from speaker.core.base import CoreBase, McpApprovals, Step
from speaker.core.config import CoreConfig
from speaker.core.state import Phase
from speaker.realtime import events as rt

YES: dict[str, frozenset[str]] = {
    "en": frozenset({"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "do it", "go ahead", "please do",
                     "yes please", "correct", "confirm", "confirmed", "affirmative", "of course", "right"}),
    "de": frozenset({"ja", "jawohl", "genau", "klar", "sicher", "ok", "okay", "mach", "mach das", "bitte",
                     "ja bitte", "richtig", "bestätigt", "natürlich", "gerne", "los"}),
}
NO: dict[str, frozenset[str]] = {
    "en": frozenset({"no", "nope", "nah", "not", "don't", "dont", "stop", "cancel", "wait", "never",
                     "negative", "but"}),
    "de": frozenset({"nein", "nee", "nö", "nicht", "kein", "keine", "stopp", "stop", "abbrechen", "halt",
                     "warte", "niemals", "aber"}),
}
MAX_ANSWER_WORDS = 5
"""A longer answer is not a plain yes (it may be a new request): unclear, so no."""


def verdict(text: str | None, language: str) -> bool:
    """True only for a short, plain yes in ``language`` (English when the language has no table)."""
    if not text:
        return False
    lang = language.split("-")[0].lower() if language else "en"
    yes, no = YES.get(lang, YES["en"]), NO.get(lang, NO["en"])
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
    if not words or len(words) > MAX_ANSWER_WORDS or any(w in no for w in words):
        return False
    phrase = " ".join(words)
    if phrase in yes:
        return True
    # "yes, please do it": every word belongs to a yes phrase
    vocabulary = {w for p in yes for w in p.split()} | {"please", "bitte", "thanks", "danke"}
    return any(w in yes for w in words) and all(w in vocabulary for w in words)


@dataclass
class Pending:
    call_id: str
    name: str
    arguments: str
    question: str | None
    stage: str = "new"
    """new (call seen), asking (question requested), listening (question heard: the answer window),
    answering (the answer committed), then decided."""
    item_id: str | None = None
    """The user item of the answer (its transcript decides)."""
    window: bool = False
    answer_by: float | None = None
    """When the answer's transcript must have come (else: no)."""
    mcp: approval.McpQuestion | None = None
    """A remote MCP server's approval request instead of a function call (``speaker.core.approval``)."""


def question_create(name: str, arguments: str, question: str | None) -> dict[str, Any]:
    """The ``response.create`` that asks: the question only, no tool may be called."""
    if question:
        ask = f'Ask the user exactly this question, word for word, and nothing else: "{question}"'
    else:
        ask = (f"Before {name} runs with {arguments}, ask the user one short yes/no question to confirm it, "
               "naming the action and the device (for example: \"Unlock the front door?\"). Say only the "
               "question, in the user's language. Do not say it is done.")
    event = wire.response_create(ask)
    event["response"]["tool_choice"] = "none"
    return event


class ConfirmHandling(CoreBase):
    """The core's confirmation decisions (see the module docstring)."""

    def __init__(self, cfg: CoreConfig, *, mcp: McpApprovals | None = None) -> None:
        super().__init__(cfg, mcp=mcp)
        self._confirm: Pending | None = None
        self._confirmed: set[str] = set()

    @property
    def _confirm_transcribe(self) -> bool:
        """Sessions need input transcription: the answer is read from it."""
        return bool(self.cfg.confirm_tools) or self.cfg.mcp_asks

    def _confirm_holds_call(self, call_id: str, name: str, arguments: str, out: list[Step]) -> bool:
        """A call of a confirm tool: held (not run) until the user's yes."""
        if name not in self.cfg.confirm_tools or call_id in self._confirmed:
            return False
        pending = self._confirm
        if pending is not None and pending.call_id == call_id:
            return True  # the same call again (function_call event and response.done)
        if pending is not None:
            self._not_confirmed(pending, "another confirmation was already pending", out)
        self._confirm = Pending(call_id, name, arguments, self.cfg.confirm_tools[name])
        out.append(O.Note(f"{name} needs a spoken yes: asking first (nothing runs before)"))
        return True

    def _confirm_holds_mcp(self, question: approval.McpQuestion, now: float, out: list[Step]) -> None:
        """A remote MCP approval request the policy leaves to the user: asked like a confirm tool."""
        pending = self._confirm
        if pending is not None and pending.call_id == question.request_id:
            return
        if pending is not None:
            self._not_confirmed(pending, "another confirmation was already pending", out)
        self._confirm = Pending(question.request_id, question.name, question.arguments, None, mcp=question)
        out.append(O.Note(f"{question.name} needs approval: asking the user first (nothing runs before)"))
        if self._gate.active is None and self._session_open and self.phase in (Phase.THINKING, Phase.SPEAKING,
                                                                          Phase.FOLLOW_UP, Phase.OPEN):
            self._confirm_ask(now, out)  # the request came after its response ended: ask now

    def _confirm_ask(self, now: float, out: list[Step]) -> bool:
        """At the end of a response (no other tool pending): ask the held call's question."""
        pending = self._confirm
        if pending is None:
            return False
        if pending.stage == "new":
            pending.stage = "asking"
            out.append(SendEvent(approval.question_create(pending.mcp) if pending.mcp is not None
                                 else question_create(pending.name, pending.arguments, pending.question)))
            playing = self._playback.playing
            self._expect_response(now)
            if playing:
                self.phase = Phase.SPEAKING
            return True
        if pending.stage == "asking":
            pending.stage = "listening"  # the question's response: heard to its end, then the answer
        return False

    def _holds_response(self) -> bool:
        """A committed turn during the question or its answer window is the answer: no response.create
        (the model must not act on it); the transcript decides first."""
        pending = self._confirm
        if pending is None or pending.stage not in ("asking", "listening"):
            return False
        pending.stage = "answering"
        return True

    def _confirm_on_server(self, ev: rt.RealtimeEvent, now: float, out: list[Step]) -> None:
        pending = self._confirm
        if pending is None or pending.stage != "answering":
            return
        match ev:
            case rt.InputCommitted(item_id=item_id) if pending.item_id is None:
                pending.item_id = item_id
            case rt.InputTranscript(item_id=item_id, transcript=text) if item_id == pending.item_id:
                self._decide(pending, text, now, out)

    def _decide(self, pending: Pending, answer: str | None, now: float, out: list[Step]) -> None:
        self._confirm = None
        if verdict(answer, self.cfg.confirm_language):
            out.append(O.Note(f"{pending.name}: the user said yes ({answer!r}); running it"))
            self._confirmed.add(pending.call_id)
            if pending.mcp is None:
                self._start_tool(pending.call_id, pending.name, pending.arguments, now, out)
                return
            out.append(SendEvent(approval.approval_response(pending.mcp, True)))  # the service runs it
        else:
            self._not_confirmed(pending, f"the user answered {answer!r}" if answer else "no answer was heard",
                                out)
        if self._gate.active is not None or self._gate.cancelled:
            self._gate.need_response = True
        else:
            self._send_response_create(now, out)

    def _not_confirmed(self, pending: Pending, why: str, out: list[Step]) -> None:
        if pending.mcp is not None:
            out.append(O.Note(f"{pending.name} not approved: {why}; the service runs nothing"))
            if self._session_open:
                out.append(SendEvent(approval.approval_response(pending.mcp, False, approval.denied_reason(why))))
            return
        output = json.dumps({"ok": False, "error": f"not done: the user did not confirm ({why}). Nothing was "
                                                   "changed; tell the user so briefly."})
        out.append(O.Note(f"{pending.name} not confirmed: {why}; nothing ran"))
        out.append(O.ToolDone(pending.call_id, pending.name, False, 0.0, output))
        if self._session_open:
            out.append(SendEvent(wire.function_output(pending.call_id, output)))

    def _confirm_after(self, now: float, out: list[Step]) -> None:
        """After dispatch: the answer window after the question; silence (or the end) is a no."""
        pending = self._confirm
        if pending is None:
            return
        if self.phase in (Phase.IDLE, Phase.DISABLED, Phase.CONNECTING):
            self._confirm = None  # the conversation ended: nothing runs
            out.append(O.Note(f"{pending.name} not confirmed: the conversation ended; nothing ran"))
            return
        if pending.stage == "answering":
            if pending.answer_by is None:
                pending.answer_by = now + self.cfg.confirm_listen_s
            elif now >= pending.answer_by:
                self._decide(pending, None, now, out)  # the answer was never transcribed: no
            return
        if pending.stage != "listening":
            return
        if self.phase in (Phase.FOLLOW_UP, Phase.OPEN) and not pending.window:
            pending.window = True  # the question was heard: listen without a wake word
            self.phase = Phase.FOLLOW_UP
            self._deadline = now + self.cfg.confirm_listen_s
        elif pending.window and self.phase in (Phase.FOLLOW_UP, Phase.OPEN) and \
                (self.phase is Phase.OPEN or (self._deadline is not None and now >= self._deadline)):
            self._confirm = None
            self._not_confirmed(pending, "silence", out)

    def _start_tool(self, call_id: str, name: str, arguments: str, now: float, out: list[Step]) -> None:
        raise NotImplementedError  # ReplyHandling's

    def _send_response_create(self, now: float, out: list[Step]) -> None:
        raise NotImplementedError  # ReplyHandling's
