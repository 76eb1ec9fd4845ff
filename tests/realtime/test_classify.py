"""The failure table: what reconnects, what stops, what is a harmless race."""

from __future__ import annotations

import ssl

import pytest

from speaker.errors import RealtimeError
from speaker.realtime import classify
from speaker.realtime.classify import FailureKind, RealtimeFailure
from speaker.realtime.events import ServerError

F, R, X, B, Q = (FailureKind.FATAL, FailureKind.RETRYABLE, FailureKind.SESSION_EXPIRED, FailureKind.BENIGN,
                 FailureKind.REQUEST_ERROR)


@pytest.mark.parametrize(("code", "kind"), [
    ("invalid_api_key", F), ("insufficient_quota", F), ("model_not_found", F), ("beta_api_shape_disabled", F),
    ("session_expired", X),
    ("server_error", R), ("rate_limit_exceeded", R),
    ("response_cancel_not_active", B), ("item_truncate_invalid_item_id", B), ("input_audio_buffer_commit_empty", B),
    ("conversation_already_has_active_response", B),
    ("invalid_value", Q), ("invalid_event", Q), (None, Q),
])
def test_error_codes(code: str | None, kind: FailureKind) -> None:
    assert classify.error_kind(code, "invalid_request_error") is kind
    assert ServerError("invalid_request_error", code, "msg").kind is kind


def test_error_type_decides_when_the_code_does_not() -> None:
    assert classify.error_kind(None, "server_error") is R
    assert classify.error_kind("weird_new_code", "authentication_error") is F
    assert classify.error_kind("response_cancel_not_active", "server_error") is B  # the code wins


@pytest.mark.parametrize(("code", "kind"), [
    (1001, R), (1005, R), (1006, R), (1011, R), (1012, R), (1013, R), (1015, R),
    (4000, F), (4001, F), (1002, F), (1008, F), (1009, F),
    (1000, X), (None, R),
])
def test_close_codes(code: int | None, kind: FailureKind) -> None:
    assert classify.close_kind(code, "") is kind


def test_close_reason_naming_a_code_wins() -> None:
    assert classify.close_kind(4000, "invalid_request_error.beta_api_shape_disabled") is F
    assert classify.close_kind(1000, "session_expired") is X
    failure = classify.from_close(4000, "invalid_request_error.beta_api_shape_disabled")
    assert failure.code == "beta_api_shape_disabled" and not failure.retryable
    assert classify.from_close(1011, "").code == "1011" and classify.from_close(1011, "").retryable


@pytest.mark.parametrize(("status", "kind"), [(400, F), (401, F), (403, F), (404, F), (429, R), (500, R),
                                              (502, R), (503, R)])
def test_http_status(status: int, kind: FailureKind) -> None:
    assert classify.http_kind(status) is kind
    assert classify.from_http(status).kind is kind


def test_http_body_code_wins_over_status() -> None:
    assert classify.from_http(429, "You exceeded your current quota", "insufficient_quota").kind is F
    assert classify.from_http(429, None, "rate_limit_exceeded").kind is R


@pytest.mark.parametrize(("exc", "kind", "code"), [
    (ConnectionRefusedError(111, "refused"), R, "connection_refused"),
    (TimeoutError(), R, "timeout"),
    (OSError(101, "Network is unreachable"), R, "network"),
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), F, "tls_certificate"),
])
def test_socket_exceptions(exc: BaseException, kind: FailureKind, code: str) -> None:
    failure = classify.from_exception(exc)
    assert (failure.kind, failure.code, failure.retryable) == (kind, code, kind is R)
    assert classify.kind_of(exc) is kind


def test_failure_is_a_realtime_error_with_data() -> None:
    failure = RealtimeFailure("x", kind=R, code="1011")
    assert isinstance(failure, RealtimeError) and failure.retryable and failure.code == "1011"
    assert classify.kind_of(failure) is R
    assert classify.kind_of(RealtimeError("plain", retryable=True)) is R
    assert classify.kind_of(RealtimeError("plain")) is F


def test_scrub_removes_keys_and_key_fragments() -> None:
    text = "Incorrect API key provided: sk-proj-abc1***WXYZ. Bearer eyJhbGciOiJIUzI1NiJ9.payload"
    clean = classify.scrub(text, "sk-proj-abc1234567WXYZ")
    assert "abc1" not in clean and "WXYZ" not in clean and "eyJhbGciOiJIUzI1NiJ9" not in clean
    assert classify.scrub("my key is sk-live-secret", "sk-live-secret") == "my key is ***"
