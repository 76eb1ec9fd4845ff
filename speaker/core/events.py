"""What the conversation core is fed: one closed union of typed events, posted to one inbound queue by
every source (the microphone loop, the Realtime session, tools, playback, MQTT commands, timers, the
clock). Front-end and Realtime events are used as they are."""

from __future__ import annotations

from dataclasses import dataclass

from speaker.errors import RealtimeError
from speaker.listen.events import SpeechEnded, SpeechStarted
from speaker.realtime.events import RealtimeEvent


@dataclass(frozen=True)
class MicFrame:
    """One block of microphone audio (16 kHz mono s16le); ``t`` is the stream time at its end.
    ``played_ms`` is how much of what the core asked to play has really been heard so far (the sink's
    own count, read by the runner when the frame arrived)."""

    pcm: bytes
    t: float
    played_ms: float = 0.0
    echo: EchoLevels | None = None
    """The echo canceller's levels for this frame (None: nothing cancels echo in the daemon)."""
    ear: bytes | None = None
    """What the wake word hears of this frame: the microphone with the echo removed by a linear
    filter only (None: ``pcm`` itself). Carried for the runner, which feeds the wake word after the
    core has handled the frame; the core does not read it."""


@dataclass(frozen=True)
class Wake:
    """The wake word fired at stream time ``t`` (the pre-roll is the uplink's: the frames before)."""

    model: str
    score: float
    t: float


@dataclass(frozen=True)
class Tick:
    """Time passed (posted a few times a second so timeouts fire without audio)."""

    played_ms: float = 0.0


@dataclass(frozen=True)
class SessionReady:
    """The Realtime connection is open and configured."""

    session: int


@dataclass(frozen=True)
class SessionFailed:
    """Opening the session failed, or an open session ended with an error."""

    session: int
    error: RealtimeError


@dataclass(frozen=True)
class SessionClosed:
    """The connection is gone after we asked to close it (or the server closed it normally)."""

    session: int


@dataclass(frozen=True)
class ServerEvent:
    """A typed Realtime event from session ``session`` (events of older sessions are ignored)."""

    session: int
    event: RealtimeEvent


@dataclass(frozen=True)
class ToolFinished:
    call_id: str
    output: str
    ok: bool


@dataclass(frozen=True)
class PlaybackDrained:
    """Everything written up to the ``AwaitPlayback`` with this token has been played (or cleared)."""

    token: int
    played_ms: float = 0.0


@dataclass(frozen=True)
class Stop:
    """End playback and the conversation now (stop command, button, shutdown); with ``timers`` a
    ringing timer is dismissed too (not at shutdown: it rings again after the restart)."""

    reason: str = "stop"
    timers: bool = True


@dataclass(frozen=True)
class EndAfterReply:
    """Close the conversation once the current reply has played (end_conversation tool)."""


@dataclass(frozen=True)
class SetMuted:
    muted: bool


@dataclass(frozen=True)
class Announce:
    """Speak ``text`` (an announcement from an automation), then close the session: no follow-up.
    Waits for a conversation in progress to end first. ``preannounce`` plays the chime before it."""

    text: str
    preannounce: bool = True


@dataclass(frozen=True)
class StartConversation:
    """Open a conversation without the wake word: the model speaks first, following ``instructions``
    (e.g. "Ask whether to close the garage"), then listens for the answer. With ``ask_id`` the user's
    answer (transcribed) is reported as an ``Answer`` output carrying that id."""

    instructions: str
    ask_id: str | None = None


@dataclass(frozen=True)
class TimersRinging:
    """A timer finished: the ring is the core's to play (``names`` are the ringing timers)."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class TimersQuiet:
    """No timer is ringing any more (dismissed, cancelled, or timed out)."""


@dataclass(frozen=True)
class BudgetChanged:
    """What has been spent (USD) in the local day ``day`` (ISO date) and month ``month`` (YYYY-MM), posted
    by the app at start, after every billed figure and when the local date changes (the core reads no
    clock or file of its own). The limits are the core's config."""

    day_usd: float
    month_usd: float
    day: str
    month: str


@dataclass(frozen=True)
class Arbitrated:
    """Multi-room arbitration decided about our wake ``wake_id`` (``A.Claim``): ``proceed`` answers it
    (``takeover``: the winner gave up after we had stood down), otherwise ``winner`` answers. A
    ``proceed=False`` for the wake of our open session means a better claim came late: end it quietly."""

    wake_id: str
    proceed: bool
    takeover: bool = False
    winner: str = ""


@dataclass(frozen=True)
class EchoLevels:
    """What the echo canceller saw in one microphone frame, as mean-square levels in dBFS: what the
    speaker played (its reference), what the microphone heard, and what is left after cancelling."""

    ref_dbfs: float
    mic_dbfs: float
    out_dbfs: float
    ear_dbfs: float | None = None
    """What is left after the linear filter alone (the wake word's ear; None: no linear filter)."""


@dataclass(frozen=True)
class EchoStatus:
    """The echo monitor's verdict (posted now and then by the runner): is the speaker's own voice
    cancelled well enough for plain speech to interrupt a reply? ``erle_db`` is the measured echo
    reduction (None: not measured, or nothing cancels in the daemon)."""

    safe: bool
    erle_db: float | None
    reason: str
    erl_db: float | None = None
    """How loud our own voice comes back to the microphone: its level over the reference's (dB)."""
    linear_erle_db: float | None = None
    """The linear filter's echo reduction (median, dB; None: no linear filter)."""


CoreEvent = (
    Wake | MicFrame | SpeechStarted | SpeechEnded | Tick | SessionReady | SessionFailed | SessionClosed
    | ServerEvent | ToolFinished | PlaybackDrained | Stop | EndAfterReply | SetMuted | Announce
    | StartConversation | TimersRinging | TimersQuiet | BudgetChanged | Arbitrated | EchoStatus
)
