"""What the conversation core is fed. Front-end and Realtime events are used as they are; these are
the rest: microphone frames, the session's lifecycle, tools, playback and control."""

from __future__ import annotations

from dataclasses import dataclass

from speaker.errors import RealtimeError
from speaker.listen.events import SpeechEnded, SpeechStarted
from speaker.realtime.events import RealtimeEvent


@dataclass(frozen=True)
class Wake:
    """The wake word fired. ``preroll`` is the microphone audio just before the detection (16 kHz)."""

    model: str
    score: float
    t: float
    preroll: bytes = b""


@dataclass(frozen=True)
class MicFrame:
    """One block of microphone audio (16 kHz mono s16le); ``t`` is the stream time at its end."""

    pcm: bytes
    t: float


@dataclass(frozen=True)
class Tick:
    """Time passed (the app sends these a few times a second so timeouts fire without audio)."""


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


@dataclass(frozen=True)
class Stop:
    """End playback and the conversation now (stop command, end_conversation tool)."""

    reason: str = "stop"


@dataclass(frozen=True)
class EndAfterReply:
    """Close the conversation once the current reply has played (end_conversation tool)."""


@dataclass(frozen=True)
class SetMuted:
    muted: bool


@dataclass(frozen=True)
class Announce:
    """Speak ``text`` (an announcement from an automation), then close the session: no follow-up.
    Waits for a conversation in progress to end first."""

    text: str


@dataclass(frozen=True)
class StartConversation:
    """Open a conversation without the wake word: the model speaks first, following ``instructions``
    (e.g. "Ask whether to close the garage"), then listens for the answer. With ``ask_id`` the user's
    answer (transcribed) is reported as a Notify('answer') carrying that id."""

    instructions: str
    ask_id: str | None = None


CoreEvent = (
    Wake | MicFrame | SpeechStarted | SpeechEnded | Tick | SessionReady | SessionFailed | SessionClosed
    | ServerEvent | ToolFinished | PlaybackDrained | Stop | EndAfterReply | SetMuted | Announce | StartConversation
)
