"""The settings tree. Frozen, typed, documented; unknown keys are errors.

Every section here is what a user may write in ``config/speaker.yaml``. Defaults are chosen for a
room speaker on a Raspberry Pi with a far-field microphone array.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from speaker.config.secret import Secret

BUILTIN_OWW_MODELS = ("hey_jarvis", "alexa", "hey_mycroft", "hey_rhasspy", "okay_nabu")
BUILTIN_MWW_MODELS = ("hey_jarvis", "alexa", "hey_mycroft", "okay_nabu")
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")


class Section(BaseModel):
    # attribute docstrings become field descriptions: the README's configuration reference is generated
    # from them (speaker.config.reference), so the docs cannot drift from the code
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


# --------------------------------------------------------------------------- audio


class AudioInputSettings(Section):
    """Where the microphone audio comes from."""

    device: str | int | None = None
    """Device index or a substring of its name (``speaker devices`` lists them); null = system default."""
    file: Path | None = None
    """Read a WAV or raw s16le 16 kHz file or FIFO instead of a device (headless, tests, demo)."""
    realtime: bool = True
    """Pace file input in real time (false: as fast as possible, for offline tools)."""
    channels: list[Annotated[int, Field(ge=0, le=15)]] = Field(default_factory=lambda: [0])
    """Channels of the array to use; several are mixed (averaged) to mono."""
    rate: int | None = Field(default=None, ge=8000, le=192000)
    """Capture rate; null = 16000 if the device supports it, else its default rate (then resampled)."""
    block_ms: Literal[10, 20, 30] = 10
    """Frame size handed to the wake word and VAD."""
    retry_s: float = Field(default=5.0, gt=0, le=300)
    """How long to wait before reopening a missing or unplugged device."""

    @field_validator("channels")
    @classmethod
    def _channels_unique(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("list at least one channel")
        if len(set(value)) != len(value):
            raise ValueError("channels must not repeat")
        return value


class AudioOutputSettings(Section):
    """Where replies and sounds are played."""

    device: str | int | None = None
    """Device index or a substring of its name; null = system default."""
    file: Path | None = None
    """Write the speaker output to a WAV/raw file or FIFO instead of a device."""
    rate: int | None = Field(default=None, ge=8000, le=192000)
    """Playback rate; null = 24000 if supported, else the device default (then resampled)."""
    volume: int = Field(default=80, ge=0, le=100)
    """Initial output volume in percent (persisted changes come from the volume command)."""
    latency_ms: int = Field(default=60, ge=10, le=1000)
    """Device buffer latency to ask for; lower makes barge-in stop faster."""
    realtime: bool = True
    """Play file output at real-time pace (false: write at once, for offline tools)."""
    retry_s: float = Field(default=5.0, gt=0, le=300)
    """How long to wait before reopening an output device that went away."""


class AudioSettings(Section):
    """Microphone and speaker."""

    input: AudioInputSettings = AudioInputSettings()
    output: AudioOutputSettings = AudioOutputSettings()
    preroll_ms: int = Field(default=1000, ge=0, le=5000)
    """Audio kept from before the wake word, so words said right after it are not lost."""


# --------------------------------------------------------------------------- wake word


class WakeModelSettings(Section):
    """One wake word."""

    name: str
    """A built-in model (hey_jarvis, alexa, hey_mycroft, hey_rhasspy, okay_nabu) or a path to a model file."""
    threshold: float | None = Field(default=None, gt=0, lt=1)
    """Score that triggers; null = the engine default (0.5 openWakeWord, the model's own cutoff microWakeWord)."""
    label: str | None = None
    """Name reported on detections; defaults to the model name."""
    voice: str | None = None
    """Voice for conversations opened by this wake word (overrides realtime.voice)."""
    instructions: str | None = None
    """Extra instructions for conversations opened by this wake word."""

    @property
    def display_name(self) -> str:
        if self.label:
            return self.label
        return Path(self.name).stem if ("/" in self.name or self.name.endswith(".tflite")
                                         or self.name.endswith(".json")) else self.name

    @field_validator("voice")
    @classmethod
    def _voice(cls, value: str | None) -> str | None:
        if value is not None and value not in VOICES:
            raise ValueError(f"unknown voice {value!r}; choose one of {', '.join(VOICES)}")
        return value


class WakeSettings(Section):
    """The local wake word: nothing leaves the house before it fires."""

    engine: Literal["openwakeword", "microwakeword"] = "openwakeword"
    """openWakeWord (default; more models, custom .tflite) or microWakeWord (about 10x less CPU)."""
    models: list[WakeModelSettings] = Field(default_factory=lambda: [WakeModelSettings(name="hey_jarvis")])
    """One or more wake words, listened for at once."""
    refractory_s: float = Field(default=2.0, ge=0, le=60)
    """After a detection, ignore the same model for this long."""
    threads: int = Field(default=1, ge=1, le=8)
    """TFLite threads. One is fastest on a Pi: the default thread pool wastes CPU on 80 ms inferences."""

    @model_validator(mode="after")
    def _models(self) -> WakeSettings:
        if not self.models:
            raise ValueError("models: list at least one wake word model")
        builtins = BUILTIN_OWW_MODELS if self.engine == "openwakeword" else BUILTIN_MWW_MODELS
        for model in self.models:
            is_path = "/" in model.name or model.name.endswith((".tflite", ".json"))
            if not is_path and model.name not in builtins:
                raise ValueError(
                    f"models: {model.name!r} is not a built-in {self.engine} model "
                    f"({', '.join(builtins)}) nor a path to a model file"
                )
        names = [m.display_name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError("models: two models have the same name; give one a 'label'")
        return self


# --------------------------------------------------------------------------- VAD


class VadSettings(Section):
    """Local voice activity detection (webrtcvad): when a turn starts and ends."""

    aggressiveness: int = Field(default=3, ge=0, le=3)
    """webrtcvad mode. 0-1 call loud room noise speech; 2-3 suit a far-field speaker."""
    frame_ms: Literal[10, 20, 30] = 30
    """VAD frame length."""
    start_ms: int = Field(default=90, ge=10, le=1000)
    """Voiced audio needed before speech counts as started."""
    hangover_ms: int = Field(default=600, ge=100, le=5000)
    """Silence needed before speech counts as ended."""
    pad_ms: int = Field(default=300, ge=0, le=1000)
    """Audio sent from before speech onset, so the first syllable is not clipped."""
    no_speech_timeout_s: float = Field(default=6.0, gt=0, le=60)
    """After the wake word, give up if nobody speaks within this time."""
    max_turn_s: float = Field(default=30.0, gt=1, le=300)
    """End a turn that never goes quiet (a TV in the room) after this long."""


# --------------------------------------------------------------------------- conversation


class ConversationSettings(Section):
    """Follow-up, barge-in and when the session closes."""

    follow_up_s: float = Field(default=5.0, ge=0, le=60)
    """After a reply, listen this long for a follow-up without the wake word (0 disables)."""
    idle_close_s: float = Field(default=5.0, ge=0, le=300)
    """Close the Realtime session when nothing happened this long after the last reply ended."""
    barge_in: Literal["wake", "speech", "off"] = "wake"
    """Interrupt a reply by the wake word (half duplex, default), by any speech (needs echo cancellation), or not."""
    echo_tail_ms: int = Field(default=300, ge=0, le=2000)
    """After playback stops, ignore the microphone this long (room echo)."""
    max_session_s: float = Field(default=55 * 60, ge=60, le=60 * 60)
    """End the conversation before the server's 60-minute cap."""
    response_timeout_s: float = Field(default=20.0, gt=0, le=300)
    """Give up on a reply that does not start within this time."""

    @model_validator(mode="after")
    def _windows(self) -> ConversationSettings:
        if self.idle_close_s < self.follow_up_s:
            raise ValueError("idle_close_s must be at least follow_up_s (the follow-up needs the open session)")
        return self


# --------------------------------------------------------------------------- Realtime


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


# --------------------------------------------------------------------------- MQTT


class MqttTls(Section):
    """TLS to the broker."""

    ca_file: Path | None = None
    """CA bundle that signed the broker's certificate."""
    cert_file: Path | None = None
    """Client certificate, for brokers that require one."""
    key_file: Path | None = None
    """The client certificate's key."""
    insecure: bool = False
    """Skip hostname verification (self-signed brokers on the LAN)."""


class MqttSettings(Section):
    """The MQTT broker: device tools publish here; state and events appear here."""

    enabled: bool = True
    """false: no broker at all (device tools are left out)."""
    host: str = "localhost"
    """Broker host name or address."""
    port: int = Field(default=1883, ge=1, le=65535)
    """Broker port (8883 is usual with TLS)."""
    username: str | None = None
    """Broker user, if it needs one."""
    password: Secret | None = None
    """From {env: …} or {file: …}."""
    tls: MqttTls | None = None
    """TLS settings; null = plain TCP."""
    client_id: str | None = None
    """Defaults to 'speaker-<site_id>'."""
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    """MQTT keepalive; the last will fires after about 1.5x this."""
    base_topic: str = "speaker"
    """State, events and commands live under <base_topic>/<site_id>/…"""
    site_id: str = "default"
    """One speaker per room: the room's name, used in topics and as the device name."""
    reconnect_max_s: float = Field(default=60.0, ge=1, le=3600)
    """Longest wait between reconnect attempts (jittered exponential backoff)."""

    @field_validator("base_topic", "site_id")
    @classmethod
    def _topic_part(cls, value: str) -> str:
        if not value or any(c in value for c in "#+\0") or value.startswith("/") or value.endswith("/"):
            raise ValueError("must be a plain topic level without '#', '+', NUL or leading/trailing '/'")
        return value


# --------------------------------------------------------------------------- MCP


class McpRemoteServer(Section):
    """An internet-reachable MCP server: the Realtime service calls it directly."""

    label: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    """Unique server label (letters, digits, _ and -)."""
    url: str
    """https:// endpoint of the server (the cloud must reach it)."""
    description: str | None = None
    """Tells the model what the server is for."""
    headers: dict[str, Secret] = Field(default_factory=dict)
    """Extra HTTP headers, each value a secret reference."""
    authorization: Secret | None = None
    """OAuth access token for the server (not together with an Authorization header)."""
    allowed_tools: list[str] | None = None
    """Only these tools of the server; null = all."""
    require_approval: Literal["never", "always"] | list[str] = "never"
    """'never', 'always', or a list of tool names that need approval (denied for now, with a reason)."""

    @model_validator(mode="after")
    def _auth(self) -> McpRemoteServer:
        if self.authorization is not None and any(k.lower() == "authorization" for k in self.headers):
            raise ValueError("give either 'authorization' or an Authorization header, not both")
        if not self.url.startswith("https://"):
            raise ValueError("url: a remote MCP server must be https:// (the cloud calls it)")
        return self


class McpBridgedServer(Section):
    """An MCP server on the LAN or a local program: we call it and expose its tools as functions."""

    label: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,32}$")
    """Unique server label; prefixes its tool names."""
    url: str | None = None
    """Streamable HTTP endpoint, e.g. Home Assistant's http://homeassistant.local:8123/api/mcp (not SSE)."""
    token: Secret | None = None
    """Bearer token (e.g. a Home Assistant long-lived access token)."""
    command: list[str] | None = None
    """Or a stdio server: the command and its arguments."""
    env: dict[str, str | Secret] = Field(default_factory=dict)
    """Extra environment for a stdio server; values may be secrets. Only HOME, PATH, USER… are inherited."""
    allowed_tools: list[str] | None = None
    """Only these tools of the server; null = all."""
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Timeout for connecting and for each call."""
    retry_s: float = Field(default=60.0, gt=0, le=3600)
    """How often an unreachable server is tried again."""

    @model_validator(mode="after")
    def _transport(self) -> McpBridgedServer:
        if (self.url is None) == (self.command is None):
            raise ValueError("give exactly one of 'url' (streamable HTTP) or 'command' (stdio)")
        if self.command is not None and not self.command:
            raise ValueError("command: must not be empty")
        return self


class McpSettings(Section):
    """MCP servers: remote ones run by the service, bridged ones called by us."""

    remote: list[McpRemoteServer] = Field(default_factory=list)
    """Internet-reachable servers the Realtime service calls directly."""
    bridged: list[McpBridgedServer] = Field(default_factory=list)
    """LAN or local (stdio) servers we call; their tools become functions named <label>__<tool>."""

    @model_validator(mode="after")
    def _labels(self) -> McpSettings:
        labels = [s.label for s in self.remote] + [s.label for s in self.bridged]
        if len(set(labels)) != len(labels):
            raise ValueError("server labels must be unique")
        return self


# --------------------------------------------------------------------------- tools, logging, root


BuiltinTool = Literal["time", "end_conversation", "volume", "timers"]
_ALL_BUILTINS: tuple[BuiltinTool, ...] = ("time", "end_conversation", "volume", "timers")


class ToolsSettings(Section):
    """Function tools the model may call."""

    packs: list[str] = Field(default_factory=list)
    """Tool pack files or globs, relative to the config file (e.g. '../tools/zigbee2mqtt.yaml')."""
    builtin: list[BuiltinTool] = Field(default_factory=lambda: list(_ALL_BUILTINS))
    """Built-in tools: local time/date, ending the conversation, speaker volume, kitchen timers."""
    timeout_s: float = Field(default=8.0, gt=0, le=120)
    """A tool call that takes longer is answered with a timeout error."""


class HomeSettings(Section):
    """The speaker as a device on MQTT: state, events and commands under <base_topic>/<site_id>/…, and
    Home Assistant MQTT discovery (harmless without Home Assistant)."""

    enabled: bool = True
    """Publish state and events and accept commands (needs mqtt.enabled)."""
    discovery: bool = True
    """Publish Home Assistant MQTT discovery, so the speaker appears as a device with its entities."""
    discovery_prefix: str = "homeassistant"
    """Home Assistant's discovery prefix (the MQTT integration's setting)."""
    device_name: str | None = None
    """The device's name in Home Assistant; null = 'Speaker <site_id>'."""

    @field_validator("discovery_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or any(c in value for c in "#+\0") or value.startswith("/") or value.endswith("/"):
            raise ValueError("must be a topic without '#', '+', NUL or leading/trailing '/'")
        return value


class TimersSettings(Section):
    """Kitchen timers (the 'timers' built-in): kept by the daemon, not the session; persisted in state_dir."""

    max_ring_s: float = Field(default=300.0, ge=5, le=3600)
    """A finished timer rings until the wake word or the stop command ends it, or for this long."""
    missed_ring_s: float = Field(default=3600.0, ge=0, le=7 * 24 * 3600)
    """A timer that finished while the daemon was down rings at start if it finished at most this long ago;
    older ones are only reported (event timer_finished with missed: true)."""
    max_timers: int = Field(default=20, ge=1, le=100)
    """How many timers may run at once."""
    max_duration_s: int = Field(default=24 * 3600, ge=60, le=7 * 24 * 3600)
    """The longest timer the model may set."""


class SoundSettings(Section):
    """One feedback sound: the synthesized tone, or a WAV of your own."""

    enabled: bool = True
    """Play this sound."""
    file: Path | None = None
    """A WAV (8/16/24/32-bit PCM or 32-bit float, any rate, mixed to mono) instead of the synthesized tone;
    relative to the config file."""
    volume: int = Field(default=100, ge=0, le=100)
    """This sound's loudness in percent (on top of feedback.volume and the speaker volume)."""


class WakeSoundSettings(SoundSettings):
    """The wake chime: off by default, because words said over it are blanked from the microphone."""

    enabled: bool = False
    """Play a chime when the wake word is heard (opt-in: the microphone is silenced while it plays)."""


class SoundsSettings(Section):
    """Each feedback sound (enabled, file, volume)."""

    wake: WakeSoundSettings = WakeSoundSettings()
    """Wake word acknowledged."""
    thinking: SoundSettings = SoundSettings()
    """A tool call is taking a while (see feedback.thinking_after_s)."""
    error: SoundSettings = SoundSettings()
    """A conversation failed (service unreachable or refused, no reply)."""
    mute: SoundSettings = SoundSettings()
    """The microphone was muted."""
    unmute: SoundSettings = SoundSettings()
    """The microphone was unmuted."""
    timer: SoundSettings = SoundSettings()
    """A finished timer (repeated until stopped)."""
    preannounce: SoundSettings = SoundSettings()
    """Chime before an announcement (the say command)."""


class FeedbackSettings(Section):
    """Local feedback sounds, synthesized by the project; the microphone ignores them while they play."""

    volume: int = Field(default=60, ge=0, le=100)
    """Loudness of all feedback sounds in percent (relative to the speaker volume)."""
    thinking_after_s: float = Field(default=1.5, gt=0, le=30)
    """Play the thinking sound when a tool call runs longer than this (and every 3 s after)."""
    sounds: SoundsSettings = SoundsSettings()
    """Per-sound settings."""


class LoggingSettings(Section):
    """Logs go to stderr (journald on a Pi). Audio and secrets are never logged."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """--debug raises it to DEBUG."""
    format: Literal["text", "json"] = "text"
    """json: one object per line."""


class Settings(Section):
    """The whole configuration."""

    audio: AudioSettings = AudioSettings()
    wake: WakeSettings = WakeSettings()
    vad: VadSettings = VadSettings()
    conversation: ConversationSettings = ConversationSettings()
    realtime: RealtimeSettings = RealtimeSettings()
    mqtt: MqttSettings = MqttSettings()
    mcp: McpSettings = McpSettings()
    tools: ToolsSettings = ToolsSettings()
    logging: LoggingSettings = LoggingSettings()
    home: HomeSettings = HomeSettings()
    timers: TimersSettings = TimersSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    state_dir: Path = Path("/var/lib/speaker")
    """Where timers, the volume, mute, the wake word choice and today's cost are persisted."""
