"""The timer tools as the model calls them: through the registry, with argument validation."""

from __future__ import annotations

import json
from typing import Any

from speaker.timers.service import TimerService
from speaker.timers.tools import timer_tools
from speaker.tools.base import ToolRegistry
from speaker.tools.schema import check_function_tool, validate_arguments
from tests.timers.support import FakeClock, fast_settings


def registry(timers: TimerService) -> ToolRegistry:
    reg = ToolRegistry(validate=validate_arguments)
    reg.extend(timer_tools(timers))
    return reg


async def call(reg: ToolRegistry, tool: str, /, **arguments: Any) -> tuple[bool, dict[str, Any]]:
    outcome = await reg.execute(tool, json.dumps(arguments))
    return outcome.ok, json.loads(outcome.output)


def test_the_tools_are_valid_realtime_function_tools() -> None:
    timers = TimerService(fast_settings(), None)
    for tool in timer_tools(timers):
        assert check_function_tool(tool.spec) == []


async def test_set_list_cancel() -> None:
    clock = FakeClock()
    async with TimerService(fast_settings(), None, clock=clock) as timers:
        reg = registry(timers)
        ok, out = await call(reg, "set_timer", minutes=1.5, name="eggs")
        assert ok and out["name"] == "eggs" and out["duration"] == "1 minute 30 seconds"
        ok, out = await call(reg, "set_timer", hours=1)
        assert ok and out["name"] == "1 hour timer"
        clock.advance(30)
        ok, out = await call(reg, "list_timers")
        assert [(t["name"], t["remaining"]) for t in out["timers"]] == [("eggs", "1 minute"),
                                                                        ("1 hour timer", "59 minutes 30 seconds")]
        ok, out = await call(reg, "cancel_timer", name="eggs")
        assert ok and out == {"ok": True, "cancelled": ["eggs"], "remaining_timers": 1}
        ok, out = await call(reg, "cancel_timer", all=True)
        assert ok and out["remaining_timers"] == 0
        ok, out = await call(reg, "list_timers")
        assert out["timers"] == [] and "No timers" in out["note"]


async def test_bad_arguments_come_back_as_errors_for_the_model() -> None:
    async with TimerService(fast_settings(), None, clock=FakeClock()) as timers:
        reg = registry(timers)
        ok, out = await call(reg, "set_timer")
        assert not ok and "duration" in out["error"]
        ok, out = await call(reg, "set_timer", minutes=-5)
        assert not ok and "minutes" in out["error"]
        ok, out = await call(reg, "set_timer", seconds="ten")
        assert not ok and "seconds must be an integer" in out["error"]
        ok, out = await call(reg, "cancel_timer", name="nothing")
        assert not ok and "no timers" in out["error"]
        assert timers.timers() == []
