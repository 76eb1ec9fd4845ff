"""What the conversation core asks the app to do. The app executes them in order, right away."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    """Microphone audio (16 kHz) to upload; the app resamples to 24 kHz. ``final`` flushes the
    resampler (the end of a stretch of uploaded audio)."""

    pcm: bytes
    final: bool = False


@dataclass(frozen=True)
class Play:
    """Reply audio (24 kHz) for the speaker."""

    pcm: bytes


@dataclass(frozen=True)
class StopPlayback:
    """Drop everything queued for the speaker now."""


@dataclass(frozen=True)
class AwaitPlayback:
    """Report ``PlaybackDrained(token)`` once what was written so far has played."""

    token: int


@dataclass(frozen=True)
class RunTool:
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ResetVad:
    """Forget the VAD's state (after our own playback: its echo is not the user)."""


@dataclass(frozen=True)
class SetState:
    """The speaker's visible state: idle, listening, thinking, speaking, error, muted."""

    state: str


@dataclass(frozen=True)
class Notify:
    """Something worth telling the outside world (MQTT events, logs): ``kind`` and JSON-able data."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlaySound:
    """A local feedback sound: wake, error, …"""

    name: str


Action = (
    OpenSession | CloseSession | SendEvent | AppendAudio | Play | StopPlayback | AwaitPlayback | RunTool
    | ResetVad | SetState | Notify | PlaySound
)
