"""Settings of ``feedback:``: the sounds the speaker plays on its own."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from speaker.config.section import Section


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
