"""One conversation's figures, counted once: turns, responses, audio sent, tokens, cost, latency."""

from __future__ import annotations

from speaker.core.config import Pricing
from speaker.core.outputs import ResponseBilled, SessionEnded, TranscriptionBilled
from speaker.realtime.events import ResponseDone, Usage


class SessionStats:
    def __init__(self, session: int, purpose: str, opened: float, pricing: Pricing | None) -> None:
        self.session = session
        self.purpose = purpose
        self.opened = opened
        self._pricing = pricing
        self.turns = 0
        self.responses = 0
        self.usage = Usage()
        self.cost = 0.0
        self.transcription_s = 0.0
        self.request_t: float | None = None
        """When the user's turn ended (or we asked for a response): the start of the latency clock."""
        self._latency: dict[str, float | None] = {}

    def requested(self, now: float) -> None:
        if self.request_t is None:
            self.request_t = now

    def first_audio(self, response_id: str, now: float) -> None:
        if response_id not in self._latency:
            self._latency[response_id] = round(now - self.request_t, 3) if self.request_t is not None else None
            self.request_t = None

    def billed(self, done: ResponseDone) -> ResponseBilled:
        usd = self._pricing.turn(done.usage) if self._pricing is not None else 0.0
        self.responses += 1
        self.usage = self.usage + done.usage
        self.cost += usd
        return ResponseBilled(done.response_id, done.status, done.usage, usd, self.cost,
                              self._latency.get(done.response_id))

    def transcribed(self, seconds: float) -> TranscriptionBilled:
        usd = self._pricing.transcription(seconds) if self._pricing is not None and seconds > 0 else 0.0
        self.transcription_s += max(seconds, 0.0)
        self.cost += usd
        return TranscriptionBilled(seconds, usd)

    def ended(self, reason: str, now: float, uploaded_s: float) -> SessionEnded:
        return SessionEnded(self.session, self.purpose, reason, round(now - self.opened, 3), self.turns,
                            self.responses, uploaded_s, self.usage, self.cost, self.transcription_s)
