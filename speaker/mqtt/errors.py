"""MQTT failures as tool errors: their text goes back to the model, so it says what happened to the
command (not sent / maybe sent) in words the model can repeat to the user."""

from __future__ import annotations

from speaker.errors import ToolError

NOT_REACHABLE = "The home's MQTT broker is not reachable right now; nothing was sent."


class MqttUnavailable(ToolError):
    """The broker is not connected: the command was not sent. Retryable once the broker is back."""

    retryable = True

    def __init__(self, message: str = NOT_REACHABLE) -> None:
        super().__init__(message)


class MqttUncertain(ToolError):
    """The command left us but the broker never acknowledged it (timeout or connection lost while
    waiting): it may or may not have arrived."""

    retryable = False


class MqttRefused(ToolError):
    """The broker refused something (for example a subscription its ACL does not allow)."""
