"""The settings tree. Frozen, typed, documented; unknown keys are errors.

Every section here is what a user may write in ``config/speaker.yaml``. Defaults are chosen for a
room speaker on a Raspberry Pi with a far-field microphone array. Each section lives in its own
module (``speaker.config.audio``, ``.wake``, ``.vad``, ``.conversation``, ``.realtime``, ``.mqtt``,
``.mcp``, ``.tools``, ``.home``, ``.timers``, ``.feedback``); this one holds the root ``Settings`` and
re-exports every section, so ``from speaker.config.schema import X`` works for all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from speaker.config.audio import AudioInputSettings, AudioOutputSettings, AudioSettings
from speaker.config.conversation import ConversationSettings
from speaker.config.cost import CostSettings
from speaker.config.echo import EchoSettings
from speaker.config.feedback import FeedbackSettings, SoundSettings, SoundsSettings, WakeSoundSettings
from speaker.config.hardware import HardwareSettings
from speaker.config.home import HomeSettings
from speaker.config.mcp import McpBridgedServer, McpRemoteServer, McpSettings
from speaker.config.mqtt import MqttSettings, MqttTls
from speaker.config.realtime import (
    VOICES,
    LocalTurnSettings,
    Prices,
    RealtimeSettings,
    SemanticVadSettings,
    ServerVadSettings,
    TranscriptionSettings,
    TurnDetection,
)
from speaker.config.rooms import RoomsSettings
from speaker.config.section import Section
from speaker.config.timers import TimersSettings
from speaker.config.tools import BuiltinTool, ToolsSettings
from speaker.config.vad import VadSettings
from speaker.config.wake import BUILTIN_MWW_MODELS, BUILTIN_OWW_MODELS, WakeModelSettings, WakeSettings

__all__ = [
    "BUILTIN_MWW_MODELS",
    "BUILTIN_OWW_MODELS",
    "VOICES",
    "AudioInputSettings",
    "AudioOutputSettings",
    "AudioSettings",
    "BuiltinTool",
    "ConversationSettings",
    "FeedbackSettings",
    "HardwareSettings",
    "HomeSettings",
    "LocalTurnSettings",
    "LoggingSettings",
    "McpBridgedServer",
    "McpRemoteServer",
    "McpSettings",
    "MqttSettings",
    "MqttTls",
    "Prices",
    "RealtimeSettings",
    "Section",
    "SemanticVadSettings",
    "ServerVadSettings",
    "Settings",
    "SoundSettings",
    "SoundsSettings",
    "TimersSettings",
    "ToolsSettings",
    "TranscriptionSettings",
    "TurnDetection",
    "VadSettings",
    "WakeModelSettings",
    "WakeSettings",
    "WakeSoundSettings",
]


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
    echo: EchoSettings = EchoSettings()
    cost: CostSettings = CostSettings()
    state_dir: Path = Path("/var/lib/speaker")
    """Where timers, the volume, mute, the wake word choice and today's cost are persisted."""
    rooms: RoomsSettings = RoomsSettings()
    """Multi-room arbitration: on whenever MQTT is (a speaker alone never waits)."""
    hardware: HardwareSettings = HardwareSettings()
