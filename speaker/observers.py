"""Observers of the core's outputs that are not an adapter of their own: the log and systemd's STATUS."""

from __future__ import annotations

import logging

from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.conversation import Step
from speaker.core.state import State
from speaker.system.sdnotify import Notifier

log = logging.getLogger("speaker.core")

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class LogObserver:
    """The daemon's log of what the core decided, and every finished session's figures."""

    def __init__(self) -> None:
        self.sessions: list[O.SessionEnded] = []

    def observe(self, step: Step, now: float) -> None:
        match step:
            case O.Note(message=message, level=level):
                log.log(LEVELS.get(level, logging.INFO), "%s", message)
            case O.StateChanged(state=state):
                log.info("state: %s", state.value)
            case O.Problem(message=message, code=code):
                log.warning("problem%s: %s", f" ({code})" if code else "", message)
            case O.ResponseBilled(response_id=rid, status=status, usage=usage, cost_usd=usd):
                log.info("reply %s %s: %d tokens, $%.4f", rid, status, usage.total, usd)
            case O.SessionEnded():
                self.sessions.append(step)
                log.info("%s", step.summary_line())
            case A.SendEvent() | A.AppendAudio() | A.Play() | A.Listen():
                pass  # per-frame or per-delta: never logged
            case _:
                pass


STATUS = {
    State.IDLE: "listening for the wake word", State.LISTENING: "in conversation: listening",
    State.THINKING: "in conversation: thinking", State.SPEAKING: "in conversation: speaking",
    State.ERROR: "error: conversations unavailable (see the log)", State.MUTED: "muted",
    State.ANNOUNCING: "speaking an announcement",
}


class StatusObserver:
    """Mirrors the visible state into systemd's STATUS= line."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    def observe(self, step: Step, now: float) -> None:
        if isinstance(step, O.StateChanged):
            self._notifier.status(STATUS[step.state])
