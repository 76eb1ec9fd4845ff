"""What the conversation core asks the runner to do (I/O). The runner carries them out in order, right
away, and decides nothing. Facts for observers are in ``speaker.core.outputs``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OpenSession:
    session: int
    wake_model: str | None = None
    """The wake word that opened it (selects a per-wake-word voice/instructions)."""
    purpose: str = "conversation"
    """conversation (wake word), announce (say a text, then close) or start (the model speaks first)."""
    instructions: str | None = None
    """Extra instructions for this session (announce/start)."""
    transcribe: bool = False
    """Ask for input transcription even if the config does not (an 'ask' needs the answer as text)."""


@dataclass(frozen=True)
class CloseSession:
    session: int
    reason: str


@dataclass(frozen=True)
class SendEvent:
    """A client event for the open session (already in GA wire shape)."""

    event: dict[str, Any]


@dataclass(frozen=True)
class AppendAudio:
    """Microphone audio (16 kHz) to upload; the runner resamples to 24 kHz. ``final`` flushes the
    resampler (the end of a stretch of uploaded audio)."""

    pcm: bytes
    final: bool = False


@dataclass(frozen=True)
class Play:
    """Reply audio (24 kHz) for the speaker."""

    pcm: bytes


@dataclass(frozen=True)
class PlaySound:
    """A local feedback sound (wake, error, thinking, timer, …), queued after what is playing."""

    name: str


@dataclass(frozen=True)
class StopPlayback:
    """Drop everything queued for the speaker now."""


@dataclass(frozen=True)
class AwaitPlayback:
    """Post ``PlaybackDrained(token)`` once what was written so far has played."""

    token: int


@dataclass(frozen=True)
class RunTool:
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Listen:
    """What the microphone feeds: the wake engine, the VAD, and whether frames are replaced by silence
    (while our own sound and its echo reach the microphone). Sent whenever one of them changes; a
    detector that is switched back on starts afresh."""

    wake: bool
    vad: bool
    blank: bool = False


@dataclass(frozen=True)
class ResetVad:
    """Forget the VAD's state (after our own playback: its echo is not the user)."""


@dataclass(frozen=True)
class DismissTimers:
    """Every ringing timer is done (the wake word, the stop command, or the ring timed out)."""

    reason: str


@dataclass(frozen=True)
class Claim:
    """Ask the other speakers whether we answer our wake ``wake_id`` (multi-room arbitration); the
    answer comes back as ``Arbitrated``. ``segment`` is the microphone audio over the wake word (16 kHz
    mono s16le, the last second before the detection): the adapter measures its speech level."""

    wake_id: str
    model: str
    score: float
    segment: bytes


@dataclass(frozen=True)
class Release:
    """Our session for ``wake_id`` could not open: hand the floor to the runner-up."""

    wake_id: str


@dataclass(frozen=True)
class Duck:
    """Lower the playback (``on``) while someone talks over a reply, so the wake word or their words
    get through; back to the set volume when ``on`` is false."""

    on: bool


Action = (
    OpenSession | CloseSession | SendEvent | AppendAudio | Play | PlaySound | StopPlayback | AwaitPlayback
    | RunTool | Listen | ResetVad | DismissTimers | Claim | Release | Duck
)
