"""Cost arithmetic against the protocol reference's example, and the session ledger."""

from __future__ import annotations

import logging

import pytest

from speaker.config.schema import Prices, RealtimeSettings
from speaker.realtime import cost
from speaker.realtime.cost import SessionLedger, prices_for, transcription_cost, turn_cost
from speaker.realtime.events import ResponseDone, Usage

FULL = RealtimeSettings().prices["gpt-realtime-2.1"]
MINI = RealtimeSettings().prices["gpt-realtime-2.1-mini"]
# reference §7: total 253 = 119 text in (64 cached) + 13 audio in + 30 text out + 91 audio out
EXAMPLE = Usage(text_in=119, text_cached=64, audio_in=13, audio_cached=0, text_out=30, audio_out=91)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    cost._warned.clear()


def test_reference_example() -> None:
    # (55 × 4.00 + 64 × 0.40 + 13 × 32.00 + 30 × 24.00 + 91 × 64.00) / 1e6
    assert turn_cost(EXAMPLE, FULL) == pytest.approx(0.0072056, abs=1e-12)
    assert EXAMPLE.total == 253


def test_cached_tokens_are_a_subset_billed_at_the_cached_rate() -> None:
    all_cached = Usage(text_in=1_000_000, text_cached=1_000_000, audio_in=1_000_000, audio_cached=1_000_000)
    assert turn_cost(all_cached, FULL) == pytest.approx(0.40 + 0.40)
    none_cached = Usage(text_in=1_000_000, audio_in=1_000_000)
    assert turn_cost(none_cached, FULL) == pytest.approx(4.00 + 32.00)


def test_output_rates_and_the_mini_model() -> None:
    one_minute_out = Usage(audio_out=1200)  # 20 tokens per second of assistant audio
    assert turn_cost(one_minute_out, FULL) == pytest.approx(0.0768)
    assert turn_cost(one_minute_out, MINI) == pytest.approx(0.024)


def test_transcription_per_minute() -> None:
    prices = Prices(text_in=0, text_cached=0, text_out=0, audio_in=0, audio_cached=0, audio_out=0,
                    transcription_per_minute=0.017)
    assert transcription_cost(90.0, prices) == pytest.approx(0.0255)
    assert transcription_cost(90.0, FULL) == 0.0  # not priced by default


def test_price_lookup_exact_then_family(caplog: pytest.LogCaptureFixture) -> None:
    table = RealtimeSettings().prices
    assert prices_for("gpt-realtime-2.1", table) is table["gpt-realtime-2.1"]
    assert prices_for("gpt-realtime-2.1-mini-2026-12-01", table) is table["gpt-realtime-2.1-mini"]
    assert prices_for("gpt-realtime-2.1-2026-10-01", table) is table["gpt-realtime-2.1"]
    assert not caplog.records  # known families are not worth a warning


def test_unknown_model_warns_once_and_estimates_with_a_known_family(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    table = RealtimeSettings().prices
    assert prices_for("kitchen-speaker", table) is table["gpt-realtime-2.1"]
    assert prices_for("kitchen-speaker", table) is table["gpt-realtime-2.1"]
    assert prices_for("speaker-mini", table) is table["gpt-realtime-2.1-mini"]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert "kitchen-speaker" in warnings[0] and "realtime.prices.kitchen-speaker" in warnings[0]


def test_empty_price_table_reports_zero_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    ledger = SessionLedger(model="gpt-realtime-2.1", prices={})
    ledger.record(ResponseDone("resp_1", "completed", usage=EXAMPLE))
    assert ledger.cost == 0.0
    assert "no prices configured" in caplog.text


def test_ledger_totals_and_summary_line() -> None:
    clock = Clock()
    ledger = SessionLedger.for_settings(RealtimeSettings(), clock=clock)
    first = ledger.record(ResponseDone("resp_1", "completed", usage=EXAMPLE), latency_s=0.8)
    second = ledger.record(ResponseDone("resp_2", "cancelled", reason="turn_detected",
                                        usage=Usage(text_in=900, text_cached=236, audio_in=50, audio_out=200)))
    ledger.add_audio_sent(3.2)
    ledger.add_audio_sent(2.9)
    clock.now += 23.44
    ledger.close()
    clock.now += 100  # after close the duration no longer grows
    assert (first.response_id, first.status, first.latency_s) == ("resp_1", "completed", 0.8)
    assert second.status == "cancelled"  # cancelled responses are billed too
    assert ledger.usage.total == 253 + 1150
    assert ledger.cost == pytest.approx(first.cost + second.cost)
    assert ledger.summary_line(user_turns=1) == (
        "session closed after 23.4 s: 1 turn (2 responses), 6.1 s audio sent, 1,403 tokens "
        f"(1,082 in / 321 out, 300 cached), ${first.cost + second.cost:.4f}")
    assert ledger.summary_line().startswith("session closed after 23.4 s: 2 responses, ")


def test_transcription_counts_towards_the_session_cost() -> None:
    prices = {"m": Prices(text_in=0, text_cached=0, text_out=0, audio_in=0, audio_cached=0, audio_out=0,
                          transcription_per_minute=0.6)}
    ledger = SessionLedger(model="m", prices=prices)
    ledger.add_transcription(30.0)
    assert ledger.cost == pytest.approx(0.3)
    assert "0 responses" in ledger.summary_line() and "$0.3000" in ledger.summary_line()
