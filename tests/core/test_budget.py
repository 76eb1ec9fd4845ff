"""Budgets in the core (speaker.core.budget), driven by event scripts in virtual time."""

from __future__ import annotations

from typing import Any

from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.budget import GOODBYE, REFUSED
from speaker.core.conversation import CoreConfig, Phase, State
from speaker.core.events import (
    Announce,
    BudgetChanged,
    PlaybackDrained,
    SetMuted,
    StartConversation,
    Stop,
    TimersRinging,
    Wake,
)
from speaker.realtime import events as rt
from tests.core.test_conversation import SOUNDS, Driver

BUDGET_SOUNDS = {**SOUNDS, REFUSED: 3.0, GOODBYE: 3.2, "timer": 0.5}


class FlatPrice:
    """Every response costs ``usd`` (the real price table is tested with the realtime edge)."""

    def __init__(self, usd: float) -> None:
        self.usd = usd

    def turn(self, usage: rt.Usage) -> float:
        return self.usd

    def transcription(self, seconds: float) -> float:
        return 0.0


def driver(**options: Any) -> Driver:
    return Driver(cfg=CoreConfig(sound_s=BUDGET_SOUNDS, **options))


def spent(day: float, month: float | None = None, date: str = "2025-03-14") -> BudgetChanged:
    return BudgetChanged(day, day if month is None else month, date, date[:7])


def sounds(out: list[Any]) -> list[str]:
    return [a.name for a in out if isinstance(a, A.PlaySound)]


def drain(d: Driver) -> list[Any]:
    token = [a.token for a in d.log if isinstance(a, A.AwaitPlayback)][-1]
    d.sink.played_ms = d.sink.written_ms
    return d.feed(PlaybackDrained(token, d.sink.played_ms), 0.01)


def test_a_spent_day_opens_no_session_and_says_so_locally() -> None:
    d = driver(daily_usd=0.05)
    d.feed(spent(0.05))
    d.mic(1.0)
    out = d.feed(Wake("hey_jarvis", 0.98, d.t))
    assert not any(isinstance(a, A.OpenSession) for a in d.log)
    assert sounds(out) == [REFUSED]
    refused = [o for o in out if isinstance(o, O.BudgetRefused)]
    assert refused == [O.BudgetRefused("day", 0.05, 0.05, "2025-03-14", "conversation")]
    assert d.core.state is State.IDLE and d.core.phase is Phase.IDLE
    # the next local day starts at zero: the wake word opens a session again
    d.feed(spent(0.0, 0.05, "2025-03-15"))
    d.mic(4.0)
    assert any(isinstance(a, A.OpenSession) for a in d.feed(Wake("hey_jarvis", 0.98, d.t)))


def test_under_budget_the_wake_word_opens_a_session() -> None:
    d = driver(daily_usd=0.05, monthly_usd=1.0)
    d.feed(spent(0.049, 0.5))
    d.wake_and_connect()
    assert d.core.phase is Phase.LISTENING


def test_a_spent_month_refuses_even_on_a_fresh_day() -> None:
    d = driver(daily_usd=0.5, monthly_usd=2.0)
    d.feed(spent(0.0, 2.01))
    out = d.feed(Wake("hey_jarvis", 0.98, d.t))
    assert [(o.scope, o.period) for o in out if isinstance(o, O.BudgetRefused)] == [("month", "2025-03")]
    assert not any(isinstance(a, A.OpenSession) for a in d.log)


def test_local_commands_keep_working_while_the_budget_is_spent() -> None:
    d = driver(daily_usd=0.01)
    d.feed(spent(1.0))
    out = d.feed(SetMuted(True))
    assert sounds(out) == ["mute"] and d.core.state is State.MUTED
    d.feed(SetMuted(False), 0.5)
    d.feed(TimersRinging(("tea",)), 0.5)
    d.mic(1.0)
    out = d.feed(Wake("hey_jarvis", 0.98, d.t))  # the wake word stops the ring, as always
    assert any(isinstance(a, A.DismissTimers) for a in out)
    assert not any(isinstance(o, O.BudgetRefused) for o in out)


def test_say_and_ask_open_no_session_over_budget() -> None:
    d = driver(daily_usd=0.01)
    d.feed(spent(0.02))
    out = d.feed(Announce("dinner is ready"))
    out += d.feed(StartConversation("ask about the garage", ask_id="a1"), 1.0)
    out += d.mic(1.0)
    assert not any(isinstance(a, A.OpenSession) for a in out)
    assert [o.what for o in out if isinstance(o, O.BudgetRefused)] == ["announce", "start"]
    assert O.Answer("a1", None) in out
    assert REFUSED not in sounds(out)  # nobody asked aloud


def test_session_budget_finishes_the_reply_then_says_goodbye() -> None:
    d = driver(session_usd=0.03, pricing=FlatPrice(0.02))
    d.wake_and_connect()
    d.say(1.0)
    d.reply("resp_1")
    drain(d)
    assert d.core.phase is Phase.FOLLOW_UP  # $0.02 of $0.03: the conversation goes on
    d.feed(Wake("hey_jarvis", 0.98, d.t), 0.5)
    d.say(1.0)
    out = d.reply("resp_2", deltas=10)
    assert [o.scope for o in out if isinstance(o, O.BudgetWrapUp)] == ["session"]
    assert not any(isinstance(a, (A.StopPlayback, A.CloseSession)) for a in out)  # the reply is heard
    out = drain(d)
    assert [a.reason for a in out if isinstance(a, A.CloseSession)] == ["conversation ended"]
    assert sounds(out) == [GOODBYE]
    assert d.core.phase is Phase.IDLE and d.core.state is State.IDLE


def test_day_budget_spent_during_a_follow_up_closes_with_the_goodbye() -> None:
    d = driver(daily_usd=0.10, pricing=FlatPrice(0.02))
    d.feed(spent(0.09))
    d.wake_and_connect()
    d.say(1.0)
    d.reply("resp_1")
    drain(d)
    assert d.core.phase is Phase.FOLLOW_UP
    out = d.feed(spent(0.11))  # the app adds the reply's cost to the day and posts it
    assert [a.reason for a in out if isinstance(a, A.CloseSession)] == ["day budget reached"]
    assert sounds(out) == [GOODBYE]
    assert [o.scope for o in out if isinstance(o, O.BudgetWrapUp)] == ["day"]


def test_stop_while_wrapping_up_wants_silence() -> None:
    d = driver(session_usd=0.01, pricing=FlatPrice(0.02))
    d.wake_and_connect()
    d.say(1.0)
    d.reply("resp_1")
    out = d.feed(Stop("stop command"))
    assert any(isinstance(a, A.CloseSession) for a in out)
    assert GOODBYE not in sounds(out + d.feed(Stop("again"), 1.0))
