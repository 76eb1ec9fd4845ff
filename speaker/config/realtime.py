"""Settings of ``realtime:``: the OpenAI Realtime session (model, voice, turn detection, prices)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from speaker.config.secret import Secret
from speaker.config.section import Section

VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")


class ServerVadSettings(Section):
    """The service's VAD ends turns (and can interrupt replies in full duplex)."""

    type: Literal["server_vad"] = "server_vad"
    """Selects this variant."""
    threshold: float = Field(default=0.6, ge=0, le=1)
    """Higher needs louder speech; a room speaker wants more than the API's 0.5."""
    prefix_padding_ms: int = Field(default=300, ge=0, le=2000)
    """Audio kept before detected speech."""
    silence_duration_ms: int = Field(default=500, ge=100, le=5000)
    """Silence that ends the turn."""


class SemanticVadSettings(Section):
    """The service's semantic VAD: waits for the sentence to sound finished."""

    type: Literal["semantic_vad"] = "semantic_vad"
    """Selects this variant."""
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    """How quickly it answers (low waits up to 8 s, high 2 s)."""


class LocalTurnSettings(Section):
    """Our own webrtcvad ends the turn: commit + response.create, server turn detection off."""

    type: Literal["local"] = "local"
    """Our VAD (the vad section) decides; cheapest and the default."""


TurnDetection = Annotated[LocalTurnSettings | ServerVadSettings | SemanticVadSettings,
                          Field(discriminator="type")]


class TranscriptionSettings(Section):
    """Transcribe what the user said (billed separately; shown in logs and MQTT events)."""

    model: str = "gpt-transcribe"
    """Transcription model (whisper-1 and gpt-4o-*-transcribe shut down 2027-02-26)."""
    language: str | None = None
    """ISO-639-1 code, e.g. 'en'; improves accuracy and latency."""
    prompt: str | None = None
    """Hint text (names, vocabulary)."""


class Prices(Section):
    """USD per 1M tokens."""

    text_in: float = Field(ge=0)
    text_cached: float = Field(ge=0)
    text_out: float = Field(ge=0)
    audio_in: float = Field(ge=0)
    audio_cached: float = Field(ge=0)
    audio_out: float = Field(ge=0)
    transcription_per_minute: float = Field(default=0.0, ge=0)


def _default_prices() -> dict[str, Prices]:
    full = Prices(text_in=4.00, text_cached=0.40, text_out=24.00,
                  audio_in=32.00, audio_cached=0.40, audio_out=64.00)
    mini = Prices(text_in=0.60, text_cached=0.06, text_out=2.40,
                  audio_in=10.00, audio_cached=0.30, audio_out=20.00)
    return {"gpt-realtime-2.1": full, "gpt-realtime-2": full, "gpt-realtime-2.1-mini": mini}


_AUDIO_ONLY: tuple[Literal["audio", "text"], ...] = ("audio",)


class RealtimeSettings(Section):
    """The OpenAI Realtime connection (GA protocol) and the session it asks for."""

    url: str = "wss://api.openai.com/v1/realtime"
    """Endpoint. Azure GA: wss://<resource>.openai.azure.com/openai/v1/realtime"""
    model: str = "gpt-realtime-2.1"
    """Model (Azure: the deployment name). gpt-realtime shuts down 2027-01-20."""
    auth: Literal["bearer", "api-key"] = "bearer"
    """How the key is sent: 'Authorization: Bearer' (OpenAI) or 'api-key' header (Azure)."""
    api_key: Secret = Secret(env="OPENAI_API_KEY")
    """Where the key comes from; it is never logged."""
    instructions: str = (
        "You are a smart speaker in a home. Answer in one or two short spoken sentences. "
        "Use the tools to control devices; never claim you did something a tool did not confirm."
    )
    """System instructions for every conversation (keep them short: they are billed every turn)."""
    voice: str = "marin"
    """alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin or cedar."""
    speed: float = Field(default=1.0, ge=0.25, le=1.5)
    """Speaking speed."""
    output_modalities: list[Literal["audio", "text"]] = Field(default_factory=lambda: list(_AUDIO_ONLY))
    """['audio'] (spoken replies) or ['text']."""
    noise_reduction: Literal["far_field", "near_field"] | None = "far_field"
    """Server-side noise reduction: far_field suits a room speaker; null turns it off."""
    transcription: TranscriptionSettings | None = None
    """Input transcription; null = off."""
    turn_detection: TurnDetection = LocalTurnSettings()
    """Who ends the user's turn: local (our VAD), server_vad or semantic_vad."""
    tool_choice: Literal["auto", "none", "required"] = "auto"
    """Whether the model may call tools."""
    max_output_tokens: int | Literal["inf"] = 1024
    """Cap on one reply's tokens (1-4096 or 'inf'): bounds the cost of a runaway answer."""
    reasoning_effort: Literal["minimal", "low", "medium", "high", "xhigh"] | None = "low"
    """For reasoning models (gpt-realtime-2*); low keeps replies quick."""
    retention_ratio: float | None = Field(default=0.8, gt=0, le=1)
    """Truncate old context at this ratio when it grows (keeps later turns cheap); null = server default."""
    post_instructions_token_limit: int | None = Field(default=8000, ge=0)
    """Context kept after the instructions before truncation starts."""
    connect_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Give up opening the WebSocket after this long."""
    prices: dict[str, Prices] = Field(default_factory=_default_prices)
    """USD per 1M tokens by model (text_in, text_cached, text_out, audio_in, audio_cached, audio_out), for
    the cost log; override when prices change."""

    @field_validator("voice")
    @classmethod
    def _voice(cls, value: str) -> str:
        if value not in VOICES:
            raise ValueError(f"unknown voice {value!r}; choose one of {', '.join(VOICES)}")
        return value

    @field_validator("output_modalities")
    @classmethod
    def _modalities(cls, value: list[str]) -> list[str]:
        if len(value) != 1:
            raise ValueError("choose exactly one of ['audio'] or ['text'] (the API cannot do both)")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with wss:// (or ws:// for a local emulator)")
        if "?" in value:
            raise ValueError("give the URL without a query; the model goes in 'model'")
        return value
