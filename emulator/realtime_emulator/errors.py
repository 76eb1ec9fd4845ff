"""Errors shaped like the service's: codes and messages a client may match on."""

from __future__ import annotations

from realtime_emulator.validate import ValidationFailure

BETA_MESSAGE = "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API."
MIN_COMMIT_MS = 100


def rejection(failure: ValidationFailure) -> tuple[str, str, str | None]:
    """(code, message, param) for a client event that failed validation; the service reports the
    first problem, with codes like ``unknown_parameter`` and ``missing_required_parameter``."""
    problem = failure.problems[0]
    path = problem.path
    if problem.kind == "extra_forbidden":
        return "unknown_parameter", f"Unknown parameter: '{path}'.", path
    if problem.kind == "missing":
        return "missing_required_parameter", f"Missing required parameter: '{path}'.", path
    if problem.kind in ("unknown_event_type", "not_an_object") or path == "type":
        return "invalid_value", f"Invalid event: {problem.message}.", path or None
    if problem.kind.endswith("_type"):
        return "invalid_type", f"Invalid type for '{path}': {problem.message}.", path
    return "invalid_value", f"Invalid value for '{path}': {problem.message}.", path


def commit_empty(buffered_ms: float) -> str:
    return (f"Error committing input audio buffer: buffer too small. Expected at least {MIN_COMMIT_MS}ms of "
            f"audio, but buffer only has {buffered_ms:.2f}ms of audio.")
