"""What a Realtime failure means for the daemon, as data.

Every way a Realtime connection can fail (a server ``error`` event, a WebSocket close code, an HTTP status
on the handshake, a socket error) maps to one :class:`FailureKind`:

========================  ==========================================================================
kind                      what the app does
========================  ==========================================================================
``FATAL``                 stop; retrying cannot help (bad key, no quota, unknown model, beta shape).
                          The next wake word may try again, but nothing loops.
``RETRYABLE``             reconnect with jittered backoff (network, server overload, rate limit).
``SESSION_EXPIRED``       the server ended the session (60-minute cap, or a normal close it started):
                          end the conversation gracefully; the next wake word opens a fresh session.
``BENIGN``                a known race (cancel with nothing to cancel…): log at debug, continue.
``REQUEST_ERROR``         the server refused one request but the session stays open: log a warning
                          (it is a bug on our side), continue.
========================  ==========================================================================

Sources: the protocol reference §1.3 (the SDK's own list of recoverable close codes) and §4 (error codes
seen in the field). The tables below are the whole policy; tests/realtime/test_classify.py pins them.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Mapping
from typing import Final

from speaker.errors import RealtimeError
from speaker.realtime.kinds import ERROR_CODE_KINDS, ERROR_TYPE_KINDS, FailureKind, error_kind

__all__ = ["ERROR_CODE_KINDS", "ERROR_TYPE_KINDS", "FailureKind", "error_kind"]



CLOSE_CODE_KINDS: Final[Mapping[int, FailureKind]] = {
    1000: FailureKind.SESSION_EXPIRED,  # the server closed normally without being asked
    1001: FailureKind.RETRYABLE,  # going away (server restart)
    1005: FailureKind.RETRYABLE,  # no status received
    1006: FailureKind.RETRYABLE,  # abnormal closure: TCP dropped, keepalive timeout
    1011: FailureKind.RETRYABLE,  # internal server error
    1012: FailureKind.RETRYABLE,  # service restart
    1013: FailureKind.RETRYABLE,  # try again later
    1015: FailureKind.RETRYABLE,  # TLS handshake failure reported by the peer
    4000: FailureKind.FATAL,  # invalid_request_error.beta_api_shape_disabled and friends
}
"""WebSocket close code → kind. Codes not listed are ``FATAL``: an unknown application code (4xxx) or a
protocol violation (1002, 1003, 1007-1010) does not get better by reconnecting in a loop."""

_CODE_IN_TEXT = re.compile(r"[a-z]+(?:_[a-z]+)+")
_KEYLIKE = re.compile(r"\b(sk-|sess_|eyJ)[A-Za-z0-9._*\-]{6,}")


class RealtimeFailure(RealtimeError):
    """A classified :class:`~speaker.errors.RealtimeError`: ``kind`` says what to do about it.

    ``retryable`` is true exactly when ``kind`` is ``RETRYABLE``; ``code`` is the server's error code, the
    close code or ``http_<status>`` as text."""

    def __init__(self, message: str, *, kind: FailureKind, code: str | None = None) -> None:
        super().__init__(message, code=code, retryable=kind is FailureKind.RETRYABLE)
        self.kind = kind


def close_kind(code: int | None, reason: str = "") -> FailureKind:
    """The kind of a WebSocket close. A reason naming a known error code wins over the number
    (the server closes 4000 with ``invalid_request_error.beta_api_shape_disabled``)."""
    named = _code_in_reason(reason)
    if named is not None:
        return ERROR_CODE_KINDS[named]
    if code is None:
        return FailureKind.RETRYABLE  # the socket just went away: treat as 1006
    return CLOSE_CODE_KINDS.get(code, FailureKind.FATAL)


def http_kind(status: int) -> FailureKind:
    """The kind of an HTTP status that refused the WebSocket upgrade."""
    if status == 429 or status >= 500:
        return FailureKind.RETRYABLE
    if 400 <= status < 500:
        return FailureKind.FATAL  # 401/403 key, 404 model or path: the same request fails the same way
    return FailureKind.RETRYABLE  # 1xx/3xx: an odd proxy on the way; worth another try


def from_error_event(code: str | None, error_type: str, message: str) -> RealtimeFailure:
    """A failure for a server ``error`` event."""
    kind = error_kind(code, error_type)
    return RealtimeFailure(f"Realtime server error {code or error_type}: {scrub(message)}", kind=kind,
                           code=code or error_type)


def from_close(code: int | None, reason: str) -> RealtimeFailure:
    """A failure for a WebSocket close we did not ask for."""
    kind = close_kind(code, reason)
    named = _code_in_reason(reason)
    shown = f"{code}" + (f" ({scrub(reason)})" if reason else "") if code is not None else "without a close frame"
    return RealtimeFailure(f"Realtime connection closed {shown}", kind=kind,
                           code=named or (str(code) if code is not None else "1006"))


def from_http(status: int, detail: str | None = None, error_code: str | None = None) -> RealtimeFailure:
    """A failure for an HTTP status on the handshake. A known error code from the body wins over the status
    (a 429 with ``insufficient_quota`` is fatal)."""
    kind = ERROR_CODE_KINDS.get(error_code or "", http_kind(status))
    text = f"Realtime endpoint refused the connection: HTTP {status}"
    if error_code:
        text += f" {error_code}"
    if detail:
        text += f": {scrub(detail)}"
    return RealtimeFailure(text, kind=kind, code=error_code or f"http_{status}")


def from_exception(exc: BaseException) -> RealtimeFailure:
    """A failure for a socket-level exception while connecting (refused, DNS, timeout, TLS)."""
    if isinstance(exc, RealtimeFailure):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        # a Pi without a real-time clock can fail here until NTP syncs; still not something to loop on
        detail = getattr(exc, "verify_message", None) or exc.strerror or str(exc)
        return RealtimeFailure(f"TLS certificate check failed: {detail}", kind=FailureKind.FATAL,
                               code="tls_certificate")
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return RealtimeFailure("Realtime endpoint did not answer in time", kind=FailureKind.RETRYABLE,
                               code="timeout")
    if isinstance(exc, ConnectionRefusedError):
        return RealtimeFailure("Realtime endpoint refused the TCP connection", kind=FailureKind.RETRYABLE,
                               code="connection_refused")
    if isinstance(exc, OSError):
        return RealtimeFailure(f"cannot reach the Realtime endpoint: {exc.strerror or exc}",
                               kind=FailureKind.RETRYABLE, code="network")
    return RealtimeFailure(f"Realtime connection failed: {type(exc).__name__}: {scrub(str(exc))}",
                           kind=FailureKind.RETRYABLE, code="connection_failed")


def kind_of(exc: BaseException) -> FailureKind:
    """The kind of any exception: a :class:`RealtimeFailure` knows it; a plain RealtimeError is fatal
    unless it says it is retryable; anything else is classified as a connection failure."""
    if isinstance(exc, RealtimeFailure):
        return exc.kind
    if isinstance(exc, RealtimeError):
        return FailureKind.RETRYABLE if exc.retryable else FailureKind.FATAL
    return from_exception(exc).kind


def scrub(text: str, secret: str | None = None) -> str:
    """Remove anything key-like from server-provided text before it reaches a log or an exception
    (OpenAI's invalid-key message quotes a masked fragment of the key)."""
    if secret:
        text = text.replace(secret, "***")
    return _KEYLIKE.sub(lambda m: m.group(1) + "***", text)


def _code_in_reason(reason: str) -> str | None:
    for match in _CODE_IN_TEXT.finditer(reason or ""):
        if match.group(0) in ERROR_CODE_KINDS:
            return match.group(0)
    return None
