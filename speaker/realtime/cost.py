"""What a conversation cost, from the ``usage`` of each ``response.done``.

Billing is per Response (protocol reference §7): input tokens (the whole conversation so far, re-sent every
turn) plus output tokens, each split into text and audio. Cached tokens are a *subset* of input tokens, so
the uncached part is billed at the input rate and the cached part at the cached rate. Input transcription,
when enabled, is billed separately per audio minute.

Prices come from ``realtime.prices`` (USD per 1M tokens), keyed by model name. Lookup policy
(:func:`prices_for`):

1. the exact model name;
2. else the longest known name the model starts with (dated snapshots such as
   ``gpt-realtime-2.1-mini-2026-12-01`` bill as their family);
3. else (an Azure deployment name, a new model) the ``*-mini`` entry if the name mentions "mini", otherwise
   the default model's entry: a warning is logged once per model name, so the estimate errs towards the
   full model and never silently reads $0;
4. an empty price table gives $0 with the same one-time warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from speaker.config.schema import Prices, RealtimeSettings
from speaker.realtime.events import ResponseDone, Usage

log = logging.getLogger(__name__)

_PER_TOKEN = 1e-6  # prices are per 1M tokens
_warned: set[str] = set()


def turn_cost(usage: Usage, prices: Prices) -> float:
    """USD for one response's usage."""
    text_uncached = max(usage.text_in - usage.text_cached, 0)
    audio_uncached = max(usage.audio_in - usage.audio_cached, 0)
    return _PER_TOKEN * (
        text_uncached * prices.text_in + usage.text_cached * prices.text_cached
        + audio_uncached * prices.audio_in + usage.audio_cached * prices.audio_cached
        + usage.text_out * prices.text_out + usage.audio_out * prices.audio_out
    )


def transcription_cost(seconds: float, prices: Prices) -> float:
    """USD for ``seconds`` of input transcription."""
    return max(seconds, 0.0) / 60.0 * prices.transcription_per_minute


def prices_for(model: str, table: Mapping[str, Prices]) -> Prices | None:
    """The prices to use for ``model`` (see the module docstring for the fallback order); None only when
    the table is empty."""
    if model in table:
        return table[model]
    family = max((name for name in table if model.startswith(name)), key=len, default=None)
    if family is not None:
        return table[family]
    if not table:
        _warn_once(model, "no prices configured; costs are reported as $0")
        return None
    default = RealtimeSettings.model_fields["model"].default
    minis = sorted(name for name in table if "mini" in name)
    if "mini" in model.lower() and minis:
        fallback = minis[-1]
    elif default in table:
        fallback = default
    else:
        fallback = sorted(table)[-1]
    _warn_once(model, f"no prices for this model; estimating with {fallback}'s. "
                      f"Add realtime.prices.{model} to the config for exact numbers")
    return table[fallback]


def _warn_once(model: str, message: str) -> None:
    if model not in _warned:
        _warned.add(model)
        log.warning("cost of %s: %s", model, message)


@dataclass(frozen=True)
class TurnRecord:
    """One response, as billed."""

    response_id: str
    status: str
    usage: Usage
    cost: float
    latency_s: float | None = None
    """Time from end of user speech to first audio, when the app measured it."""


@dataclass
class SessionLedger:
    """Costs and counters of one Realtime session (one conversation).

    The app feeds it: :meth:`record` for each ``ResponseDone``, :meth:`add_audio_sent` for audio appended,
    :meth:`add_transcription` for each ``InputTranscript``; :meth:`close` when the socket closes; then logs
    :meth:`summary_line`.
    """

    model: str
    prices: Mapping[str, Prices]
    clock: Callable[[], float] = time.monotonic
    turns: list[TurnRecord] = field(default_factory=list)
    audio_seconds_sent: float = 0.0
    transcription_seconds: float = 0.0
    started: float = field(init=False)
    ended: float | None = field(init=False, default=None)
    _prices: Prices | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.started = self.clock()
        self._prices = prices_for(self.model, self.prices)

    @classmethod
    def for_settings(cls, settings: RealtimeSettings, *, clock: Callable[[], float] = time.monotonic
                     ) -> SessionLedger:
        """A ledger for the configured model and price table."""
        return cls(model=settings.model, prices=settings.prices, clock=clock)

    def record(self, done: ResponseDone, *, latency_s: float | None = None) -> TurnRecord:
        """Add one finished response (any status: cancelled responses are billed too)."""
        cost = turn_cost(done.usage, self._prices) if self._prices is not None else 0.0
        turn = TurnRecord(done.response_id, done.status, done.usage, cost, latency_s)
        self.turns.append(turn)
        return turn

    def add_audio_sent(self, seconds: float) -> None:
        self.audio_seconds_sent += seconds

    def add_transcription(self, seconds: float) -> None:
        self.transcription_seconds += seconds

    def close(self) -> None:
        """Stop the duration clock (idempotent)."""
        if self.ended is None:
            self.ended = self.clock()

    @property
    def duration_s(self) -> float:
        return (self.ended if self.ended is not None else self.clock()) - self.started

    @property
    def usage(self) -> Usage:
        total = Usage()
        for turn in self.turns:
            total = total + turn.usage
        return total

    @property
    def cost(self) -> float:
        """Session total in USD: every response plus transcription."""
        transcription = (transcription_cost(self.transcription_seconds, self._prices)
                         if self._prices is not None else 0.0)
        return sum(t.cost for t in self.turns) + transcription

    def summary_line(self, user_turns: int | None = None) -> str:
        """One line for the session log, e.g. ``session closed after 23.4 s: 2 turns (3 responses),
        6.1 s audio sent, 1,234 tokens (812 in / 422 out, 300 cached), $0.0123``. A tool call makes a
        turn take two responses, and each is billed."""
        u = self.usage
        tokens_in = u.text_in + u.audio_in
        tokens_out = u.text_out + u.audio_out
        n = len(self.turns)
        responses = f"{n} response{'' if n == 1 else 's'}"
        counted = responses if user_turns is None else \
            f"{user_turns} turn{'' if user_turns == 1 else 's'} ({responses})"
        return (f"session closed after {self.duration_s:.1f} s: {counted}, "
                f"{self.audio_seconds_sent:.1f} s audio sent, {u.total:,} tokens "
                f"({tokens_in:,} in / {tokens_out:,} out, {u.text_cached + u.audio_cached:,} cached), "
                f"${self.cost:.4f}")


@dataclass(frozen=True)
class PriceTable:
    """The core's ``Pricing`` for one model: what a reply and a transcription cost (USD); $0 when no
    prices are configured (with one warning)."""

    prices: Prices | None

    @classmethod
    def for_settings(cls, settings: RealtimeSettings) -> PriceTable:
        return cls(prices_for(settings.model, settings.prices))

    def turn(self, usage: Usage) -> float:
        return turn_cost(usage, self.prices) if self.prices is not None else 0.0

    def transcription(self, seconds: float) -> float:
        return transcription_cost(seconds, self.prices) if self.prices is not None else 0.0
