"""The timer tools the model can call: set_timer, cancel_timer, list_timers (the 'timers' built-in)."""

from __future__ import annotations

import math
from typing import Any

from speaker.errors import ToolError
from speaker.timers.model import local_clock, spoken_duration
from speaker.timers.service import MAX_NAME_CHARS, TimerService
from speaker.tools.base import Tool, ToolSpec
from speaker.tools.builtin import FunctionTool

_NAME = {"type": "string", "maxLength": MAX_NAME_CHARS,
         "description": "What the timer is for, in the user's words (e.g. 'pasta'); leave out if not said."}


def _number(arguments: dict[str, Any], key: str) -> float:
    value = arguments.get(key)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ToolError(f"{key} must be a number of zero or more; you sent {value!r}. No timer was set.")
    return float(value)


def timer_tools(service: TimerService) -> list[Tool]:
    """The three timer tools, bound to ``service``."""

    async def set_timer(arguments: dict[str, Any]) -> dict[str, Any]:
        seconds = (_number(arguments, "hours") * 3600 + _number(arguments, "minutes") * 60
                   + _number(arguments, "seconds"))
        if seconds <= 0:
            raise ToolError("Give the duration in hours, minutes and/or seconds (more than zero). No timer was set.")
        timer = service.set(round(seconds), arguments.get("name"))
        return {"ok": True, "name": timer.name, "duration": spoken_duration(timer.duration_s),
                "rings_at": local_clock(timer.ends_at),
                "note": "It rings on the speaker even after this conversation ends; the wake word or "
                        "'stop' silences it."}

    async def cancel_timer(arguments: dict[str, Any]) -> dict[str, Any]:
        name = arguments.get("name")
        cancelled = service.cancel(name if isinstance(name, str) else None, everything=bool(arguments.get("all")))
        return {"ok": True, "cancelled": [t.name for t in cancelled], "remaining_timers": len(service.timers())}

    async def list_timers(arguments: dict[str, Any]) -> dict[str, Any]:
        now = service.now()
        timers = [{"name": t.name, "remaining": spoken_duration(t.remaining(now)),
                   "remaining_s": round(t.remaining(now)), "rings_at": local_clock(t.ends_at),
                   "ringing": t.ringing_since is not None} for t in service.timers()]
        if not timers:
            return {"timers": [], "note": "No timers are running."}
        return {"timers": timers}

    set_params = {
        "type": "object",
        "properties": {
            "hours": {"type": "number", "minimum": 0, "description": "Hours (may be combined with minutes)."},
            "minutes": {"type": "number", "minimum": 0, "description": "Minutes (e.g. 5, or 1.5)."},
            "seconds": {"type": "integer", "minimum": 0, "description": "Seconds."},
            "name": _NAME,
        },
        "required": [],
        "additionalProperties": False,
    }
    cancel_params = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 80,
                     "description": "The timer to cancel, by name (leave out when there is only one)."},
            "all": {"type": "boolean", "description": "Cancel every timer."},
        },
        "required": [],
        "additionalProperties": False,
    }
    list_params = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
    return [
        FunctionTool(ToolSpec(
            "set_timer",
            "Start a countdown timer on this speaker (kitchen timer). It keeps running after the conversation "
            "and rings when done. Give the duration; a name only if the user said what it is for.",
            set_params), set_timer),
        FunctionTool(ToolSpec(
            "cancel_timer",
            "Cancel a running timer (by name), or all timers. Also silences a ringing timer.",
            cancel_params), cancel_timer),
        FunctionTool(ToolSpec(
            "list_timers",
            "The running timers with the time left on each.",
            list_params), list_timers),
    ]
