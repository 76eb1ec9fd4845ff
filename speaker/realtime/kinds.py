"""What a Realtime server error means, as data: the tables behind ``speaker.realtime.classify``. Pure
(no I/O imports): the conversation core uses it."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final


class FailureKind(enum.StrEnum):
    FATAL = "fatal"
    RETRYABLE = "retryable"
    SESSION_EXPIRED = "session_expired"
    BENIGN = "benign"
    REQUEST_ERROR = "request_error"


ERROR_CODE_KINDS: Final[Mapping[str, FailureKind]] = {
    # fatal: retrying with the same settings gives the same answer
    "invalid_api_key": FailureKind.FATAL,
    "insufficient_quota": FailureKind.FATAL,
    "model_not_found": FailureKind.FATAL,
    "beta_api_shape_disabled": FailureKind.FATAL,
    # the 60-minute cap: there is no resume
    "session_expired": FailureKind.SESSION_EXPIRED,
    # transient on the server side
    "server_error": FailureKind.RETRYABLE,
    "rate_limit_exceeded": FailureKind.RETRYABLE,
    # races between our events and the server's state (barge-in, local turn detection)
    "response_cancel_not_active": FailureKind.BENIGN,
    "item_truncate_invalid_item_id": FailureKind.BENIGN,
    "input_audio_buffer_commit_empty": FailureKind.BENIGN,
    "conversation_already_has_active_response": FailureKind.BENIGN,
}
"""Server ``error.code`` → kind. Codes not listed are ``REQUEST_ERROR`` unless their type says more."""

ERROR_TYPE_KINDS: Final[Mapping[str, FailureKind]] = {
    "server_error": FailureKind.RETRYABLE,
    "authentication_error": FailureKind.FATAL,
    "permission_error": FailureKind.FATAL,
}
"""Server ``error.type`` → kind, used when the code is missing or unknown."""


def error_kind(code: str | None, error_type: str | None = None) -> FailureKind:
    """The kind of a server ``error`` event, from its ``code`` (first) and ``type``."""
    if code is not None and code in ERROR_CODE_KINDS:
        return ERROR_CODE_KINDS[code]
    if error_type is not None and error_type in ERROR_TYPE_KINDS:
        return ERROR_TYPE_KINDS[error_type]
    return FailureKind.REQUEST_ERROR
