"""What the conversation core tells the world: one closed union of typed facts (like wyoming's event
classes). Observers (Home Assistant/MQTT, the log, systemd status, the demo's timeline, the benches)
consume them; none re-derives anything from strings or wire dicts, and each figure is counted here,
once."""

from __future__ import annotations

from dataclasses import dataclass

from speaker.core.state import State
from speaker.realtime.events import Usage


@dataclass(frozen=True)
class StateChanged:
    state: State


@dataclass(frozen=True)
class WakeHeard:
    """A wake word opened (or joined) a conversation."""

    model: str
    score: float


@dataclass(frozen=True)
class SessionOpened:
    """A Realtime session was asked for (``purpose``: conversation, announce or start)."""

    session: int
    purpose: str
    wake_model: str | None = None
    ask_id: str | None = None


@dataclass(frozen=True)
class SessionEnded:
    """A conversation is over. Every figure of it, counted once."""

    session: int
    purpose: str
    reason: str
    seconds: float
    turns: int
    """User turns committed (by our VAD or the server's)."""
    responses: int
    uploaded_s: float
    """Microphone audio sent (seconds at 16 kHz)."""
    usage: Usage
    cost_usd: float
    transcription_s: float = 0.0

    def summary_line(self) -> str:
        """One line for the log, e.g. ``session closed after 23.4 s (idle): 2 turns (3 responses), 6.1 s
        audio sent, 1,234 tokens (812 in / 422 out, 300 cached), $0.0123``."""
        u = self.usage
        turns = f"{self.turns} turn{'' if self.turns == 1 else 's'}"
        responses = f"{self.responses} response{'' if self.responses == 1 else 's'}"
        return (f"session closed after {self.seconds:.1f} s ({self.reason}): {turns} ({responses}), "
                f"{self.uploaded_s:.1f} s audio sent, {u.total:,} tokens ({u.text_in + u.audio_in:,} in / "
                f"{u.text_out + u.audio_out:,} out, {u.text_cached + u.audio_cached:,} cached), "
                f"${self.cost_usd:.4f}")


@dataclass(frozen=True)
class TurnCommitted:
    """The user's turn ended and was sent for an answer."""

    turn: int


@dataclass(frozen=True)
class ResponseBilled:
    """A response finished (any status: cancelled ones are billed too)."""

    response_id: str
    status: str
    usage: Usage
    cost_usd: float
    session_cost_usd: float
    latency_s: float | None
    """End of the user's turn (or our request) to the reply's first audio."""


@dataclass(frozen=True)
class TranscriptionBilled:
    seconds: float
    cost_usd: float


@dataclass(frozen=True)
class UserTranscript:
    text: str


@dataclass(frozen=True)
class ReplyText:
    """The transcript of what the speaker said (a reply or an announcement)."""

    text: str


@dataclass(frozen=True)
class Answer:
    """The user's answer to an ``ask`` (``text`` None: the conversation ended without one)."""

    ask_id: str
    text: str | None


@dataclass(frozen=True)
class Announcing:
    text: str


@dataclass(frozen=True)
class Interrupted:
    """A reply was cut short (barge-in, stop, mute)."""


@dataclass(frozen=True)
class ToolStarted:
    call_id: str
    name: str


@dataclass(frozen=True)
class ToolDone:
    call_id: str
    name: str
    ok: bool
    seconds: float
    output: str


@dataclass(frozen=True)
class Problem:
    """Something went wrong that a user may want to see (MQTT ``event/error``, the log)."""

    message: str
    code: str | None = None
    fatal: bool = False
    source: str = "conversation"


@dataclass(frozen=True)
class Expired:
    """The service ended the session (the 60-minute cap)."""


@dataclass(frozen=True)
class Note:
    """A line for the log only (why the core did something quiet: nobody spoke, a benign race…)."""

    message: str
    level: str = "info"
    """debug | info | warning | error"""


@dataclass(frozen=True)
class BudgetRefused:
    """A wake word (or a say/ask request, ``what``) opened no session: the ``scope`` (day or month)
    budget is spent; the speaker said so locally."""

    scope: str
    spent_usd: float
    limit_usd: float
    period: str
    """The local day (ISO date) or month (YYYY-MM) the spend belongs to."""
    what: str = "conversation"


@dataclass(frozen=True)
class BudgetWrapUp:
    """A conversation reached a budget (``scope``: session, day or month): it closes after the current
    reply, with a local goodbye."""

    scope: str
    session_cost_usd: float
    limit_usd: float


@dataclass(frozen=True)
class StoodDown:
    """Another speaker answers our wake word (multi-room arbitration): we stay quiet."""

    wake_id: str
    winner: str


@dataclass(frozen=True)
class DuplexChanged:
    """Whether plain speech may interrupt a reply now (full duplex) or only the wake word (half duplex),
    and why (the echo monitor's reason, or the configured mode)."""

    full: bool
    reason: str
    erle_db: float | None = None


@dataclass(frozen=True)
class Resumed:
    """A lost session was replaced in the same wake (``speaker.core.resume``): session ``session`` was
    asked for with the user's turn again (``turn``: the turn's audio goes up again, answered or not) or
    for the follow-up that comes (``turn`` False). ``reason``: why the previous one was lost."""

    reason: str
    session: int
    turn: bool = True


@dataclass(frozen=True)
class Unavailable:
    """The service refused us for good (bad key, no quota, unknown model, protocol refused): no
    conversation until the cool-off has passed and a session opens again (Home Assistant's problem
    entity, ``speaker check``)."""

    reason: str
    code: str | None = None


@dataclass(frozen=True)
class Available:
    """A session opened again after an ``Unavailable`` (or for the first time since the start)."""


Output = (
    StateChanged | WakeHeard | SessionOpened | SessionEnded | TurnCommitted | ResponseBilled
    | TranscriptionBilled | UserTranscript | ReplyText | Answer | Announcing | Interrupted | ToolStarted
    | ToolDone | Problem | Expired | Note | BudgetRefused | BudgetWrapUp | StoodDown | DuplexChanged | Resumed
    | Unavailable | Available
)
