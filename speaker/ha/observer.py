"""Turns what the runner does into MQTT state and events (a runner Observer).

It never sends audio: only the state, texts (wake model, transcripts, replies), tool outcomes, timings
and costs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from speaker.config.schema import Prices, RealtimeSettings
from speaker.core import actions as A
from speaker.ha.cost import CostToday
from speaker.ha.publisher import Publisher
from speaker.ha.topics import DeviceTopics
from speaker.realtime import events as rt
from speaker.realtime.cost import prices_for, transcription_cost, turn_cost

log = logging.getLogger(__name__)

QUIET_STATES = ("idle", "error", "muted")
SKIPPED_NOTIFY = frozenset({"tool_call"})
"""The core announces a tool call when it starts; the tool watcher publishes it with its outcome."""


@dataclass
class _Session:
    opened: float
    purpose: str
    cost: float = 0.0
    responses: int = 0
    request_t: float | None = None
    """When the user's turn ended (or we asked for a response): the start of the latency clock."""
    first_audio: dict[str, float | None] = field(default_factory=dict)
    """response id -> latency to its first audio."""


class DeviceObserver:
    """The runner observer behind ``state``, ``cost_today`` and ``event/*`` (see the README)."""

    def __init__(self, publisher: Publisher, topics: DeviceTopics, cost: CostToday, realtime: RealtimeSettings,
                 *, wall: Callable[[], float], on_state: Callable[[str], None] | None = None,
                 on_announce: Callable[[str], None] | None = None) -> None:
        self._pub = publisher
        self._topics = topics
        self._cost = cost
        prices: Mapping[str, Prices] = realtime.prices
        self._prices = prices_for(realtime.model, prices)
        self._wall = wall
        self._on_state = on_state
        self._on_announce = on_announce
        self._session: _Session | None = None
        self._pending_ask: str | None = None
        self.state = "idle"

    # ------------------------------------------------------------------ helpers

    def event(self, kind: str, data: Mapping[str, Any] | None = None, *, qos: int = 0) -> None:
        """Publish ``event/<kind>`` with ``data`` and a ``ts`` (Unix seconds)."""
        self._pub.event(self._topics.event(kind), {**(data or {}), "ts": round(self._wall(), 3)}, qos=qos)

    def publish_cost(self) -> None:
        self._pub.retain(self._topics.cost_today, self._cost.payload())

    # ------------------------------------------------------------------ Observer

    def action(self, action: A.Action, now: float) -> None:
        match action:
            case A.SetState(state=state):
                self._state(state, now)
            case A.Notify(kind=kind, data=data):
                self._notify(kind, data)
            case A.OpenSession(purpose=purpose):
                self._session = _Session(opened=now, purpose=purpose)
            case A.SendEvent(event=event) if self._session is not None:
                if event.get("type") in ("input_audio_buffer.commit", "response.create") \
                        and self._session.request_t is None:
                    self._session.request_t = now
            case _:
                pass

    def server_event(self, session: int, event: rt.RealtimeEvent, now: float) -> None:
        s = self._session
        if s is None:
            return
        match event:
            case rt.ServerSpeechStopped():
                if s.request_t is None:
                    s.request_t = now
            case rt.AudioDelta(response_id=rid) if rid not in s.first_audio:
                s.first_audio[rid] = round(now - s.request_t, 3) if s.request_t is not None else None
                s.request_t = None
            case rt.ResponseDone():
                self._response_done(s, event)
            case rt.InputTranscript(seconds=seconds) if seconds > 0 and self._prices is not None:
                usd = transcription_cost(seconds, self._prices)
                s.cost += usd
                self._cost.add(usd)
                self.publish_cost()
            case _:
                pass

    # ------------------------------------------------------------------ internals

    def _state(self, state: str, now: float) -> None:
        self.state = state
        self._pub.retain(self._topics.state, state)
        if self._on_state is not None:
            self._on_state(state)
        if state in QUIET_STATES:
            if self._pending_ask is not None:
                # the conversation ended without an answer: tell whoever is waiting for one
                ask_id, self._pending_ask = self._pending_ask, None
                self._pub.event(self._topics.response(ask_id), {"id": ask_id, "text": None,
                                                                "error": "no answer"}, qos=1)
            s, self._session = self._session, None
            if s is not None:
                self.event("session_closed", {"purpose": s.purpose, "seconds": round(now - s.opened, 1),
                                               "responses": s.responses, "cost_usd": round(s.cost, 6)})

    def _notify(self, kind: str, data: Mapping[str, Any]) -> None:
        if kind in SKIPPED_NOTIFY:
            return
        if kind == "answer":
            ask_id = str(data.get("ask_id"))
            self._pending_ask = None
            self._pub.event(self._topics.response(ask_id), {"id": ask_id, "text": data.get("text")}, qos=1)
        elif kind == "conversation_started":
            started = data.get("ask_id")
            self._pending_ask = str(started) if started is not None else None
        elif kind == "announce" and self._on_announce is not None:
            self._on_announce(str(data.get("text", "")))
        if kind == "error":
            data = {**data, "source": "conversation"}
        self.event(kind, data)

    def _response_done(self, s: _Session, done: rt.ResponseDone) -> None:
        usd = turn_cost(done.usage, self._prices) if self._prices is not None else 0.0
        s.cost += usd
        s.responses += 1
        self._cost.add(usd)
        u = done.usage
        self.event("response", {
            "response_id": done.response_id, "status": done.status,
            "latency_s": s.first_audio.get(done.response_id),
            "tokens": {"input": u.text_in + u.audio_in, "output": u.text_out + u.audio_out,
                       "cached": u.text_cached + u.audio_cached},
            "cost_usd": round(usd, 6), "session_cost_usd": round(s.cost, 6),
            "cost_today_usd": round(self._cost.usd, 6),
        })
        self.publish_cost()
