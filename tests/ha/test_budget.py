"""The budget over MQTT with a real broker: the spend of the day and month is published, survives a
restart and is posted to the real core, which then refuses a wake word locally."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.budget import REFUSED
from speaker.core.config import CoreConfig
from speaker.core.conversation import Conversation
from speaker.core.events import BudgetChanged, CoreEvent, ServerEvent, SessionReady, Stop, Wake
from speaker.core.state import State
from speaker.ha.discovery import discovery_messages
from speaker.listen.events import SpeechEnded, SpeechStarted
from speaker.realtime import events as rt
from speaker.realtime.cost import PriceTable
from tests.ha.support import ROOT, Harness, message_on, payload, running_device, settings_for
from tests.helpers.broker import Broker
from tests.mqtt.recorder import Recorder
from tests.timers.support import FakeClock

USAGE = rt.Usage(text_in=1000, audio_in=2000, audio_out=500)
REPLY_USD = (1000 * 4 + 2000 * 32 + 500 * 64) / 1e6  # gpt-realtime-2.1 prices: $0.10 a reply
COST = {"cost": {"daily_usd": 0.15, "monthly_usd": 5.0}}


class Wired:
    """The real core, its outputs observed by the device, the device's posts fed back to it (the
    runner's queue in miniature)."""

    def __init__(self, h: Harness, core: Conversation) -> None:
        self.h, self.core = h, core
        self.steps: list[Any] = []
        self.taken = 0

    def feed(self, event: CoreEvent, now: float) -> list[Any]:
        steps = self.core.handle(event, now)
        for step in steps:
            self.h.device.observer.observe(step, now)
        self.steps += steps
        while self.taken < len(self.h.control.events):  # what the device posted meanwhile
            posted = self.h.control.events[self.taken]
            self.taken += 1
            self.steps += self.core.handle(posted, now)
        return steps

    def conversation(self, session: int, now: float) -> None:
        self.feed(Wake("hey_jarvis", 0.9, now), now)
        self.feed(SessionReady(session), now + 0.1)
        self.feed(SpeechStarted(now + 0.2), now + 0.2)
        self.feed(SpeechEnded(now + 1.0), now + 1.0)
        rid = f"resp_{session}"
        self.feed(ServerEvent(session, rt.ResponseCreated(rid)), now + 1.1)
        self.feed(ServerEvent(session, rt.AudioDelta(rid, "item_1", 0, b"\0\0")), now + 1.2)
        self.feed(ServerEvent(session, rt.ResponseDone(rid, "completed", usage=USAGE)), now + 1.3)
        self.feed(Stop("stop command"), now + 2.0)


async def test_a_spent_day_refuses_the_next_wake_word_and_publishes_it(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path, **COST)
    async with running_device(settings) as h:
        core = Conversation(CoreConfig(pricing=PriceTable.for_settings(settings.realtime), sound_s={REFUSED: 3.0},
                                       daily_usd=0.15, monthly_usd=5.0))
        wired = Wired(h, core)
        assert isinstance(h.control.events[0], BudgetChanged)  # told at start
        wired.feed(h.control.events[0], 1.0)
        wired.taken = 1
        wired.conversation(1, 10.0)  # $0.10 of $0.15
        wired.conversation(2, 20.0)  # $0.20: over
        before = len([s for s in wired.steps if isinstance(s, A.OpenSession)])
        assert before == 2
        out = wired.feed(Wake("hey_jarvis", 0.9, 30.0), 30.0)
        assert not any(isinstance(s, A.OpenSession) for s in out)
        assert A.PlaySound(REFUSED) in out
        assert core.state is State.IDLE
        refused = payload(await message_on(recorder, f"{ROOT}/event/budget_refused"))
        assert refused["scope"] == "day" and refused["limit_usd"] == 0.15
        assert abs(refused["spent_usd"] - 2 * REPLY_USD) < 1e-6
        budget = payload(await message_on(recorder, f"{ROOT}/budget", lambda p: p["exhausted"]))
        assert budget["day_left_usd"] == 0.0 and abs(budget["month_left_usd"] - (5.0 - 2 * REPLY_USD)) < 1e-6
        states = [m.text for m in recorder.on(f"{ROOT}/state")]
        assert "error" not in states


async def test_spend_of_day_and_month_survives_a_restart_and_the_day_resets_alone(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path, **COST)
    clock = FakeClock()
    async with running_device(settings, clock=clock) as h:
        h.device.observer.observe(O.ResponseBilled("r", "completed", USAGE, 0.25, 0.25, None), 1.0)
        await message_on(recorder, f"{ROOT}/budget", lambda p: p["day_usd"] == 0.25)
    recorder.clear()
    clock.advance(24 * 3600)  # the next day, same month (the fake clock starts mid-January)
    async with running_device(settings, clock=clock) as again:
        told = again.control.events[0]
        assert isinstance(told, BudgetChanged) and (told.day_usd, told.month_usd) == (0.0, 0.25)
        budget = payload(await message_on(recorder, f"{ROOT}/budget"))
        assert budget["day_usd"] == 0 and budget["month_usd"] == 0.25 and budget["day_left_usd"] == 0.15
        cost = payload(await message_on(recorder, f"{ROOT}/cost_today"))
        assert cost["month_usd"] == 0.25 and cost["month"] == told.month


def test_budget_entities_appear_when_a_budget_is_set() -> None:
    plain = {topic.split("/")[3] for topic, _ in discovery_messages(settings_for(None, Path("/tmp")))}
    found = {topic.split("/")[3]: config for topic, config in
             discovery_messages(settings_for(None, Path("/tmp"), **COST))}
    assert set(found) - plain == {"cost_month", "budget_used_up", "budget_left_today", "budget_left_month"}
    left = found["budget_left_today"]
    assert left["state_topic"] == f"{ROOT}/budget" and left["unit_of_measurement"] == "USD"
    assert "day_left_usd" in left["value_template"]
