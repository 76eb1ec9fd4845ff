"""The tool runner the Runner uses: the registry, plus the thinking sound for slow calls and an
outcome report (name, ok, seconds) for ``event/tool_call``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from speaker.tools.base import ToolOutcome

log = logging.getLogger(__name__)

THINKING_REPEAT_S = 3.0


class Executes(Protocol):
    async def execute(self, name: str, arguments: str) -> ToolOutcome: ...


class WatchedTools:
    """Wraps ``tools`` (a ToolRegistry). ``on_slow`` is called when a call has run ``slow_after_s`` and
    every 3 s after; ``on_outcome`` with every result."""

    def __init__(self, tools: Executes, *, slow_after_s: float, on_slow: Callable[[str], None],
                 on_outcome: Callable[[ToolOutcome], None]) -> None:
        self._tools = tools
        self._slow_after_s = slow_after_s
        self._on_slow = on_slow
        self._on_outcome = on_outcome

    async def execute(self, name: str, arguments: str) -> ToolOutcome:
        async def remind() -> None:
            await asyncio.sleep(self._slow_after_s)
            while True:
                try:
                    self._on_slow(name)
                except Exception:  # a sound must never fail the tool call
                    log.exception("thinking feedback failed")
                await asyncio.sleep(THINKING_REPEAT_S)

        async with asyncio.TaskGroup() as tg:
            reminder = tg.create_task(remind(), name=f"tool-thinking-{name}")
            try:
                outcome = await self._tools.execute(name, arguments)
            finally:
                reminder.cancel()
        self._on_outcome(outcome)
        return outcome
