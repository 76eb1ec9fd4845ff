"""Memory across sessions: the one place that keeps the conversation's recent text.

An open Realtime session is what costs money, so the speaker closes it when the conversation goes
quiet; a new session starts with an empty context. So that "and the bedroom too" still works, the core
keeps the recent exchange as text — the assistant's output transcript (free: it comes with the audio)
and the user's words when input transcription is on (billed; ``realtime.transcription``, the user's
choice) — and a session opened within ``conversation.memory_s`` after the previous one closed starts
with a short summary of it: one system message item (``conversation.item.create``) sent before the
first ``response.create``. No model call builds it: it is the last few exchanges, bounded in length.

The same summary seeds the session that replaces one nearing ``max_session_s`` (the rollover, between
turns) and can seed any other fresh session (``Memory.item``). The text lives only in memory, while a
conversation is open and ``memory_s`` after it closed; with ``memory_s: 0`` nothing outlives a session.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from speaker.core import outputs as O
from speaker.core import wire
from speaker.core.actions import CloseSession, OpenSession, SendEvent
from speaker.core.base import CoreBase, McpApprovals, Step
from speaker.core.config import CoreConfig
from speaker.core.state import Phase

MAX_CHARS = 800
"""The summary's length bound (characters of the item's text, heading included)."""
MAX_LINES = 12
"""At most this many lines (6 exchanges) are kept."""
LINE_CHARS = 240
"""One line is cut to this length."""
HEADING = ("Earlier in this conversation (the connection was renewed since; continue it, do not repeat "
           "this):")


class Memory:
    """The recent exchange as text, and when the last session closed (the core's clock)."""

    def __init__(self, keep_s: float, *, max_chars: int = MAX_CHARS, max_lines: int = MAX_LINES) -> None:
        self.keep_s = keep_s
        self._max_chars = max_chars
        self._lines: deque[tuple[str, str]] = deque(maxlen=max_lines)
        self._closed_at: float | None = None

    def user(self, text: str) -> None:
        self._add("User", text)

    def assistant(self, text: str) -> None:
        self._add("Assistant", text)

    def _add(self, who: str, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        if len(text) > LINE_CHARS:
            text = text[:LINE_CHARS - 1].rstrip() + "…"
        self._lines.append((who, text))

    @property
    def empty(self) -> bool:
        return not self._lines

    def summary(self) -> str | None:
        """The last exchanges, oldest first, at most ``max_chars`` long (None: nothing to tell)."""
        if not self._lines:
            return None
        lines = [f"{who}: {text}" for who, text in self._lines]
        while len(lines) > 1 and len(HEADING) + sum(len(x) + 1 for x in lines) > self._max_chars:
            lines.pop(0)  # the oldest goes first
        text = "\n".join([HEADING, *lines])
        return text[:self._max_chars]

    def item(self) -> dict[str, Any] | None:
        """The ``conversation.item.create`` that seeds a fresh session with the summary (None: nothing)."""
        text = self.summary()
        if text is None:
            return None
        return {"type": wire.ITEM_CREATE,
                "item": {"type": "message", "role": "system", "content": [{"type": "input_text", "text": text}]}}

    def closed(self, now: float) -> None:
        """A session ended at ``now``: the memory is kept ``keep_s`` for the next one."""
        self._closed_at = now
        if self.keep_s <= 0:
            self.clear()

    def opened(self) -> None:
        self._closed_at = None

    def recall(self, opened: float) -> dict[str, Any] | None:
        """The seed item for a session opened at ``opened``: only within ``keep_s`` of the last close."""
        if self._closed_at is None or opened - self._closed_at > self.keep_s:
            return None
        return self.item()

    def expire(self, now: float) -> bool:
        """Forget the text once ``keep_s`` passed with no session open. True when it was dropped now."""
        if self._closed_at is not None and self._lines and now - self._closed_at > self.keep_s:
            self.clear()
            return True
        return False

    def clear(self) -> None:
        self._lines.clear()


class MemoryHandling(CoreBase):
    """The core's memory decisions: record, seed a new session, roll over before ``max_session_s``."""

    def __init__(self, cfg: CoreConfig, *, mcp: McpApprovals | None = None) -> None:
        super().__init__(cfg, mcp=mcp)
        self._memory = Memory(cfg.memory_s)
        self._seed: dict[str, Any] | None = None
        self._seeded = 0
        """The session whose seed has been picked."""
        self._opening = OpenSession(0)
        """How the current session was opened (a rollover opens its successor the same way)."""

    def _memory_heard(self, who: str, text: str) -> None:
        if self._purpose != "announce":  # an announcement is no exchange with the user
            (self._memory.user if who == "user" else self._memory.assistant)(text)

    def _memory_carry(self, seed: dict[str, Any] | None = None) -> None:
        """The session just opened (``_new_session``) continues the conversation: it starts with the
        summary whatever ``memory_s`` says (a rollover, a resume after a dropped connection). ``seed``:
        one taken before the old session's end cleared the text (``memory_s: 0``)."""
        self._seeded, self._seed = self._session, seed if seed is not None else self._memory.item()

    def _memory_seed(self, out: list[Step]) -> None:
        """The session is ready: the seed goes first, before any ``response.create``."""
        seed, self._seed = self._seed, None
        if seed is not None:
            out.append(SendEvent(seed))
            out.append(O.Note(f"session {self._session} starts with the earlier exchange "
                              f"({len(seed['item']['content'][0]['text'])} characters)"))

    def _memory_after(self, now: float, out: list[Step]) -> None:
        """After the step: a session that ended starts the ``memory_s`` clock; one that opened picks its
        seed (within ``memory_s`` of the last close); the text is dropped once ``memory_s`` passed."""
        for step in out:
            if isinstance(step, O.SessionEnded):
                self._memory.closed(now)
        for step in out:
            if isinstance(step, OpenSession):
                self._opening = step
            elif isinstance(step, O.SessionOpened) and step.session != self._seeded:
                self._seeded = step.session
                self._seed = self._memory.recall(now) if step.purpose != "announce" else None
                self._memory.opened()
        if self.phase in (Phase.IDLE, Phase.DISABLED) and self._memory.expire(now):
            out.append(O.Note(f"memory of the last conversation dropped after {self._memory.keep_s:.0f} s"))

    def _roll_over(self, now: float, out: list[Step]) -> bool:
        """The session nears ``max_session_s`` and a reply has just been heard: replace it by a fresh one,
        seeded with the summary, within the follow-up window. The user's next words (if any) are held by
        the uplink while it connects and go to the new session. False: not possible now (close instead)."""
        if self._purpose != "conversation" or self.cfg.follow_up_s <= 0 or self._uplink.active \
                or self._gate.tools_pending or getattr(self, "_confirm", None) is not None:
            return False
        old = self._session
        out.append(CloseSession(old, "rollover"))
        out.append(O.Note(f"session {old} is {self.cfg.max_session_s / 60:.0f} min old: rolling over to a new "
                          "session between turns"))
        seed = self._memory.item()  # carried even with memory_s 0: it is the same conversation
        self._session_open = False
        self._to_idle("rollover", now, out)
        self._new_session("conversation", now, out, wake_model=self._opening.wake_model)
        self._memory_carry(seed)
        self.phase = Phase.CONNECTING
        self._uplink.begin(ready=False)
        self._deadline = now + self.cfg.follow_up_s  # the follow-up window goes on
        out.append(OpenSession(self._session, wake_model=self._opening.wake_model,
                               transcribe=self._opening.transcribe))
        return True

    def _new_session(self, purpose: str, now: float, out: list[Step], *, wake_model: str | None = None,
                     ask_id: str | None = None) -> None:
        raise NotImplementedError  # Conversation's
