"""The core's settings: a plain frozen dataclass (no pydantic, no YAML), built by ``speaker.app`` from
the validated Settings, so that importing the core loads no I/O module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from speaker.realtime.events import Usage


class Pricing(Protocol):
    """What a reply and a transcription cost (USD). ``speaker.realtime.cost`` provides one."""

    def turn(self, usage: Usage) -> float: ...

    def transcription(self, seconds: float) -> float: ...


@dataclass(frozen=True)
class CoreConfig:
    local_turns: bool = True
    """Our VAD ends turns (commit + response.create); otherwise the server's turn detection does."""
    server_silence_ms: int = 500
    barge_in: str = "auto"
    """auto | wake | speech | off: what may interrupt a reply (auto: speech while the echo monitor says
    the echo is cancelled well enough, else the wake word; see ``speaker.core.duplex``)."""
    follow_up_s: float = 5.0
    idle_close_s: float = 5.0
    echo_tail_s: float = 0.3
    no_speech_timeout_s: float = 6.0
    max_turn_s: float = 30.0
    max_session_s: float = 55 * 60
    response_timeout_s: float = 20.0
    pad_ms: int = 300
    """Audio kept before speech onset (and the wake word's pre-roll)."""
    preroll_ms: int = 1000
    """At most this much audio before the wake word goes up (``audio.preroll_ms``)."""
    hold_ms: int = 600
    tail_ms: int = 60
    sound_s: Mapping[str, float] = field(default_factory=dict)
    """Length of each feedback sound that is enabled (a missing name is silent)."""
    thinking_after_s: float = 1.5
    """A tool call running this long plays the thinking sound (then every ``thinking_repeat_s``)."""
    thinking_repeat_s: float = 3.0
    timer_pause_s: float = 1.5
    """Silence between two rings of a finished timer."""
    timer_max_ring_s: float = 120.0
    fatal_retry_s: float = 600.0
    """After a fatal refusal, the first wake word this long after it tries once more (never a loop)."""
    pricing: Pricing | None = None
    daily_usd: float | None = None
    """``cost.daily_usd``: no session opens once the day's spend reached it (None: no limit)."""
    monthly_usd: float | None = None
    session_usd: float | None = None
    """``cost.session_usd``: a conversation that cost this much wraps up after its current reply."""
    arbitrate: bool = False
    """A new wake while idle is first claimed (``A.Claim``) and answered only on ``Arbitrated``."""
    takeover_s: float = 3.0
    """How long the audio since a wake is kept, so a takeover can answer it (``rooms.takeover_s``)."""
    announce_when_muted: bool = True
    """The microphone mute does not silence announcements (``home.announce_when_muted``)."""
    barge_in_margin_db: float = 10.0
    """Speech over a reply interrupts it only this far above the echo expected after cancelling."""
    barge_in_warmup_ms: float = 500.0
    """Speech barge-in is not taken in the first this-many ms of a reply's playback."""
    duck_db: float = 20.0
    """Playback is lowered this much while someone talks over a reply (0: never)."""
    confirm_tools: Mapping[str, str | None] = field(default_factory=dict)
    """Tools that run only after a spoken yes (``confirm: true`` in a pack) -> their fixed question."""
    confirm_language: str = "en"
    """The language of the yes/no words (``realtime.transcription.language``)."""
    confirm_listen_s: float = 6.0
    """How long the speaker waits for the answer to its question (silence is a no)."""
    memory_s: float = 300.0
    """``conversation.memory_s``: a session opened this soon after the last one closed starts with a
    summary of the earlier exchange (0: nothing outlives a session; see ``speaker.core.memory``)."""
    mcp_asks: bool = False
    """Some remote MCP server's tools are approved by the user's spoken yes (``speaker.core.approval``):
    sessions need input transcription."""
