"""Turns what the conversation core reports into MQTT state and events (a runner Observer).

It reads only the core's typed outputs (never actions, wire events or state strings), and never sends
audio: only the state, texts (wake model, transcripts, replies), tool outcomes, timings and costs."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from speaker.config.cost import CostSettings
from speaker.core import outputs as O
from speaker.core.conversation import Step
from speaker.device.controls import DeviceControls
from speaker.ha.discovery import EVENT_TYPES
from speaker.ha.publisher import Publisher
from speaker.ha.topics import DeviceTopics

log = logging.getLogger(__name__)


class DeviceObserver:
    """The runner observer behind ``state``, ``cost_today`` and ``event/*`` (see the README)."""

    def __init__(self, publisher: Publisher, topics: DeviceTopics, controls: DeviceControls, *,
                 wall: Callable[[], float], limits: CostSettings | None = None,
                 spent: Callable[[], None] | None = None, retain_reply: bool = False) -> None:
        self._pub = publisher
        self._retain_reply = retain_reply
        self._topics = topics
        self._controls = controls
        self._wall = wall
        self._limits = limits or CostSettings()
        self._spent = spent
        """Called whenever the spend changed (or the date did): the app tells the core."""
        self.state = "idle"

    def event(self, kind: str, data: Mapping[str, Any] | None = None, *, qos: int = 0) -> None:
        """Publish ``event/<kind>`` with ``data`` and a ``ts`` (Unix seconds); the kinds Home Assistant's
        event entities read carry their ``event_type`` too."""
        payload = {**(data or {}), "ts": round(self._wall(), 3)}
        if kind in EVENT_TYPES and "event_type" not in payload:
            payload["event_type"] = EVENT_TYPES[kind]
        self._pub.event(self._topics.event(kind), payload, qos=qos)

    def publish_muted(self) -> None:
        self._pub.retain(self._topics.muted, "ON" if self._controls.muted else "OFF")

    def publish_cost(self) -> None:
        """The spend changed (or the date did, or the daemon started): publish it, tell the core."""
        self._pub.retain(self._topics.cost_today, self._controls.cost.payload())
        self._pub.retain(self._topics.budget, self._controls.cost.budget_payload(self._limits))
        if self._spent is not None:
            self._spent()

    def observe(self, step: Step, now: float) -> None:
        match step:
            case O.StateChanged(state=state):
                self.state = state.value
                self._pub.retain(self._topics.state, state.value)
                self._controls.state_changed(state)
                self.publish_muted()
            case O.WakeHeard(model=model, score=score):
                self.event("wake", {"model": model, "score": score})
            case O.UserTranscript(text=text):
                self.event("transcript", {"text": text})
            case O.ReplyText(text=text):
                self.event("reply", {"text": text})
                if self._retain_reply:  # the 'Last reply' sensor survives restarts (home.retain_last_reply)
                    self._pub.retain(self._topics.last_reply, {"text": text, "ts": round(self._wall(), 3)})
            case O.Interrupted():
                self.event("interrupted")
            case O.Announcing(text=text):
                self.event("announce", {"text": text})
            case O.SessionOpened(purpose="start", ask_id=ask_id):
                self.event("conversation_started", {"ask_id": ask_id})
            case O.Answer(ask_id=ask_id, text=text):
                answer: dict[str, Any] = {"id": ask_id, "text": text}
                if text is None:
                    answer["error"] = "no answer"
                self._pub.event(self._topics.response(ask_id), answer, qos=1)
                self.event("answer", {"event_type": "no_answer" if text is None else "answer", **answer}, qos=1)
            case O.ToolDone():
                self.event("tool_call", _tool_call(step))
            case O.Problem(message=message, code=code, fatal=fatal, source=source):
                data: dict[str, Any] = {"message": message, "source": source}
                if code is not None:
                    data["code"] = code
                if fatal:
                    data["fatal"] = True
                self.event("error", data)
            case O.Expired():
                self.event("session_expired")
            case O.DuplexChanged(full=full, reason=reason, erle_db=erle):
                self._pub.retain(self._topics.duplex, {
                    "full": full, "reason": reason, "erle_db": None if erle is None else round(erle, 1)})
            case O.Unavailable() | O.Available():
                self._problem(step)
            case O.Resumed(reason=reason, turn=turn):
                self.event("resumed", {"reason": reason, "turn": turn})
            case O.ResponseBilled():
                self._billed(step)
            case O.TranscriptionBilled(cost_usd=usd) if usd > 0:
                self._controls.cost.add(usd)
                self.publish_cost()
            case O.BudgetRefused(scope=scope, spent_usd=usd, limit_usd=limit, period=period, what=what):
                self.event("budget_refused", {"scope": scope, "spent_usd": usd, "limit_usd": limit,
                                              "period": period, "what": what})
            case O.BudgetWrapUp(scope=scope, session_cost_usd=usd, limit_usd=limit):
                self.event("budget_wrap_up", {"scope": scope, "session_cost_usd": usd, "limit_usd": limit})
            case O.SessionEnded():
                self.event("session_closed", {
                    "purpose": step.purpose, "reason": step.reason, "seconds": round(step.seconds, 1),
                    "turns": step.turns, "responses": step.responses, "uploaded_s": round(step.uploaded_s, 2),
                    "cost_usd": round(step.cost_usd, 6)})
            case _:
                pass

    def _billed(self, done: O.ResponseBilled) -> None:
        self._controls.cost.add(done.cost_usd)
        u = done.usage
        self.event("response", {
            "response_id": done.response_id, "status": done.status, "latency_s": done.latency_s,
            "tokens": {"input": u.text_in + u.audio_in, "output": u.text_out + u.audio_out,
                       "cached": u.text_cached + u.audio_cached},
            "cost_usd": round(done.cost_usd, 6), "session_cost_usd": round(done.session_cost_usd, 6),
            "cost_today_usd": round(self._controls.cost.usd, 6),
        })
        self.publish_cost()


    def _problem(self, step: O.Unavailable | O.Available) -> None:
        """The problem entity: on with the refusal's message (remembered for ``speaker check``), off once
        a session opened again."""
        state = self._controls.store.state
        if isinstance(step, O.Unavailable):
            state.fatal_reason, state.fatal_code, state.fatal_at = step.reason, step.code, round(self._wall(), 3)
            self._controls.store.save()
        elif state.fatal_reason is not None:
            state.fatal_reason = state.fatal_code = state.fatal_at = None
            self._controls.store.save()
        self._pub.retain(self._topics.problem, state.problem())


def _tool_call(done: O.ToolDone) -> dict[str, Any]:
    data: dict[str, Any] = {"name": done.name, "ok": done.ok, "seconds": round(done.seconds, 3)}
    if not done.ok:
        try:
            error = json.loads(done.output).get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, str):
            data["error"] = error[:300]
    return data
