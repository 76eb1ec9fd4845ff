"""The project's exception hierarchy. Exceptions carry data (``retryable``, ``code``) instead of
making callers parse messages."""

from __future__ import annotations


class SpeakerError(Exception):
    """Base class for errors this package raises on purpose."""

    retryable: bool = False


class ConfigError(SpeakerError):
    """The configuration is wrong. The message names file, line and key path."""


class SecretError(ConfigError):
    """A secret named in the configuration cannot be read (missing variable or file)."""


class AudioDeviceError(SpeakerError):
    """An audio device is missing, busy or cannot do the requested format.

    Retryable: a USB array may be plugged back in."""

    retryable = True


class RealtimeError(SpeakerError):
    """The Realtime endpoint refused or dropped us.

    ``code`` is the server's error code or a close code as text; ``retryable`` says whether opening a
    new connection can help (a bad API key never gets better by retrying)."""

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class ToolError(SpeakerError):
    """A tool call failed. The message is written for the model to read."""


EMULATOR_MISSING = ("the Realtime emulator is not installed (it is its own distribution, room-speaker-emulator, "
                    "in the checkout's emulator/ folder): run script/setup, or pip install ./emulator")
"""What ``speaker demo`` and ``speaker bench --conversation`` say when ``realtime_emulator`` is missing."""
