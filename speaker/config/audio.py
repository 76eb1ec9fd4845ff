"""Settings of ``audio:``: the microphone, the speaker output and the pre-roll."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from speaker.config.section import Section


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
