"""The conversation's phase (internal) and the speaker's visible state (published)."""

from __future__ import annotations

import enum


class Phase(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    FOLLOW_UP = "follow_up"
    OPEN = "open"
    DISABLED = "disabled"


class State(enum.StrEnum):
    """What the speaker shows (MQTT ``state``, Home Assistant, systemd STATUS, LEDs)."""

    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    ERROR = "error"
    MUTED = "muted"
    ANNOUNCING = "announcing"
    """Speaking an announcement (MQTT ``say``, Home Assistant ``notify``): no microphone is involved."""

    @property
    def quiet(self) -> bool:
        """No conversation is using the speaker."""
        return self in (State.IDLE, State.ERROR, State.MUTED)


VISIBLE = {
    Phase.IDLE: State.IDLE, Phase.OPEN: State.IDLE, Phase.CONNECTING: State.LISTENING,
    Phase.LISTENING: State.LISTENING, Phase.FOLLOW_UP: State.LISTENING, Phase.THINKING: State.THINKING,
    Phase.SPEAKING: State.SPEAKING, Phase.DISABLED: State.ERROR,
}

ACTIVE = frozenset(set(Phase) - {Phase.IDLE, Phase.DISABLED})
"""Phases in which a conversation is in progress (the VAD runs)."""
