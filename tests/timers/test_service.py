"""The timer service: deadlines on an injected clock, persistence across restarts, ringing until dismissed."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from speaker.errors import ToolError
from speaker.timers.service import TimerService
from tests.timers.support import Events, FakeClock, FakeRinger, fast_settings


async def until(predicate: Callable[[], bool], within: float = 30.0) -> None:
    """Wait for what other tasks do; the bound only catches a hang."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polls state other tasks change
            await asyncio.sleep(0.005)


def service(path: Path | None, clock: FakeClock, ringer: FakeRinger | None = None, **settings: float) -> TimerService:
    return TimerService(fast_settings(**settings), path, ringer=ringer or FakeRinger(), clock=clock, poll_s=0.01,
                        ring_pause_s=0.01)


async def test_a_timer_rings_when_its_time_comes_and_the_wake_word_dismisses_it(tmp_path: Path) -> None:
    clock, ringer, events = FakeClock(), FakeRinger(), Events()
    timers = service(tmp_path / "timers.json", clock, ringer)
    timers.listeners.append(events)
    async with timers:
        timers.set(300, "pasta")
        clock.advance(299)
        timers.check()  # what the schedule does: a second early, nothing is due
        assert ringer.rings == 0 and not timers.ringing
        clock.advance(1)
        await until(lambda: ringer.rings >= 2)
        assert timers.ringing
        assert events.kinds() == ["timer_set", "timer_finished"]
        assert events.snapshots[-1][0]["ringing"] is True
        assert timers.dismiss("wake") is True
        rings = ringer.rings
        await asyncio.sleep(0.05)
        assert ringer.rings == rings, "the ring goes on after the dismissal"
    assert ringer.silenced == 1
    assert events.events[-1] == ("timer_dismissed", {"ids": [events.events[0][1]["id"]], "names": ["pasta"],
                                                     "reason": "wake"})
    assert events.snapshots[-1] == []
    assert json.loads((tmp_path / "timers.json").read_text())["timers"] == []


async def test_the_ring_stops_by_itself_after_max_ring_s() -> None:
    clock, ringer, events = FakeClock(), FakeRinger(), Events()
    timers = service(None, clock, ringer, max_ring_s=0.2)
    timers.listeners.append(events)
    async with timers:
        timers.set(5)
        clock.advance(5)
        await until(lambda: "timer_dismissed" in events.kinds())
    assert events.events[-1][1]["reason"] == "timeout"
    # each ring counts as its sound (at least 0.05 s) plus the pause, whatever the loop's pace:
    # 0.06 s a ring, so the fourth one takes it past 0.2 s
    assert ringer.rings == math.ceil(0.2 / (max(ringer.length, 0.05) + 0.01))
    assert not timers.ringing


async def test_the_ring_waits_while_a_conversation_uses_the_speaker() -> None:
    clock, ringer = FakeClock(), FakeRinger()
    ringer.is_busy = True
    timers = service(None, clock, ringer)
    async with timers:
        timers.set(10)
        clock.advance(10)
        await until(lambda: timers.ringing)
        busy_checks = ringer.busy_checks
        await until(lambda: ringer.busy_checks >= busy_checks + 2)  # it looked twice and found the speaker busy
        assert ringer.rings == 0
        ringer.is_busy = False
        await until(lambda: ringer.rings >= 1)


async def test_timers_survive_a_restart_and_one_that_finished_while_down_rings_late(tmp_path: Path) -> None:
    path = tmp_path / "state" / "timers.json"
    clock = FakeClock()
    async with service(path, clock) as first:
        first.set(60, "tea")
        first.set(3600, "roast")
    assert {t["name"] for t in json.loads(path.read_text())["timers"]} == {"tea", "roast"}

    clock.advance(120)  # the daemon was down when the tea timer finished
    ringer, events = FakeRinger(), Events()
    second = service(path, clock, ringer)
    second.listeners.append(events)
    async with second:
        await until(lambda: ringer.rings >= 1)
        finished = [data for kind, data in events.events if kind == "timer_finished"]
        assert finished == [{"id": finished[0]["id"], "name": "tea", "duration_s": 60, "late_s": 60}]
        assert [t.name for t in second.timers()] == ["tea", "roast"]
        assert second.snapshot()[1]["remaining_s"] == 3600 - 120


async def test_a_timer_missed_long_ago_is_reported_not_rung(tmp_path: Path) -> None:
    path = tmp_path / "timers.json"
    clock = FakeClock()
    async with service(path, clock) as first:
        first.set(60, "eggs")
    clock.advance(60 + 7200)
    ringer, events = FakeRinger(), Events()
    second = service(path, clock, ringer, missed_ring_s=3600)
    second.listeners.append(events)
    async with second:
        second.check()  # what the schedule does first: the missed timer is gone, nothing rings
        assert not second.ringing
    assert ringer.rings == 0
    assert events.events[0][0] == "timer_finished"
    assert events.events[0][1]["missed"] is True and events.events[0][1]["late_s"] == 7200
    assert json.loads(path.read_text())["timers"] == []


async def test_a_timer_ringing_when_the_daemon_stopped_rings_again(tmp_path: Path) -> None:
    path = tmp_path / "timers.json"
    clock = FakeClock()
    async with service(path, clock) as first:
        first.set(30, "bread")
        clock.advance(30)
        await until(lambda: first.ringing)
    ringer = FakeRinger()
    async with service(path, clock, ringer):
        await until(lambda: ringer.rings >= 1)


async def test_a_corrupt_state_file_is_ignored_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "timers.json"
    path.write_text('{"timers": [{"id": 1}, ')
    async with service(path, FakeClock()) as timers:
        assert timers.timers() == []
        timers.set(10, "ok")
    assert len(json.loads(path.read_text())["timers"]) == 1


async def test_a_malformed_timer_is_skipped_and_the_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "timers.json"
    clock = FakeClock()
    good = {"id": "a1", "name": "tea", "named": True, "duration_s": 60, "ends_at": clock() + 60}
    path.write_text(json.dumps({"version": 1, "timers": [good, {"id": "b2", "ends_at": "soon"}]}))
    async with service(path, clock) as timers:
        assert [t.name for t in timers.timers()] == ["tea"]


async def test_cancel_by_name_by_part_of_it_the_only_one_or_all() -> None:
    clock, events = FakeClock(), Events()
    timers = service(None, clock)
    timers.listeners.append(events)
    async with timers:
        timers.set(60, "pasta")
        timers.set(120, "sauce")
        timers.set(300)
        with pytest.raises(ToolError, match="3 timers"):
            timers.cancel()
        assert [t.name for t in timers.cancel("PASTA")] == ["pasta"]
        assert [t.name for t in timers.cancel("5 minute")] == ["5 minute timer"]
        assert [t.name for t in timers.cancel()] == ["sauce"]
        with pytest.raises(ToolError, match="no timers"):
            timers.cancel()
        timers.set(60)
        timers.set(60)
        assert [t.name for t in timers.timers()] == ["1 minute timer", "1 minute timer 2"]
        with pytest.raises(ToolError, match="no timer called 'rice'"):
            timers.cancel("rice")
        assert len(timers.cancel(everything=True)) == 2
    assert events.kinds().count("timer_cancelled") == 5


async def test_cancelling_the_ringing_timer_silences_it() -> None:
    clock, ringer = FakeClock(), FakeRinger()
    async with service(None, clock, ringer) as timers:
        timers.set(10, "tea")
        clock.advance(10)
        await until(lambda: ringer.rings >= 1)
        timers.cancel("tea")
        assert not timers.ringing
        assert ringer.silenced == 1


async def test_limits_are_told_to_the_model() -> None:
    async with service(None, FakeClock(), max_timers=2, max_duration_s=3600) as timers:
        with pytest.raises(ToolError, match="between 1 second and 1 hour"):
            timers.set(7200)
        with pytest.raises(ToolError, match="too long"):
            timers.set(60, "x" * 41)
        timers.set(60, "a")
        with pytest.raises(ToolError, match="already running"):
            timers.set(60, "A")
        timers.set(60, "b")
        with pytest.raises(ToolError, match="already 2 timers"):
            timers.set(60, "c")
