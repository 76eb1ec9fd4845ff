"""Built-in tools: the time, ending the conversation, and the speaker's volume.

They need a little from the rest of the daemon, given as a ``BuiltinHost``. 'timers' in
``tools.builtin`` is served by ``speaker.timers`` (timers outlive the session, so they live in a
service the app owns); it is skipped here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from speaker.errors import ConfigError, ToolError
from speaker.tools.base import Tool, ToolSpec

log = logging.getLogger(__name__)

PROVIDED_ELSEWHERE = ("timers",)
"""Built-ins whose tools come from their own service (speaker.timers), registered by the app."""
"""Built-in names accepted in the settings whose tools come with a later issue."""


class BuiltinHost(Protocol):
    """What built-in tools ask of the daemon. Calls happen in the event loop and must not block."""

    def end_conversation(self) -> None:
        """End the session once the current reply has been spoken."""

    def set_volume(self, level: int) -> None:
        """Set the output volume, 0-100."""

    def volume(self) -> int:
        """The current output volume, 0-100."""


class FunctionTool:
    """A tool made of a spec and an async function of the (validated) arguments."""

    def __init__(self, spec: ToolSpec, run: Callable[[dict[str, Any]], Awaitable[Any]]) -> None:
        self._spec = spec
        self._run = run

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    async def call(self, arguments: dict[str, Any]) -> Any:
        return await self._run(arguments)


def _no_params() -> dict[str, Any]:
    return {"type": "object", "properties": {}, "required": [], "additionalProperties": False}


def time_tool(*, timezone: str | None = None, now: Callable[[], datetime] | None = None) -> Tool:
    """``get_time``: local time, date and weekday in ``timezone`` (an IANA name) or the system's."""
    zone: tzinfo | None = None
    if timezone is not None:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"unknown time zone {timezone!r} (use an IANA name such as Europe/Berlin)") from None
    clock = now or (lambda: datetime.now(UTC))

    async def run(arguments: dict[str, Any]) -> dict[str, Any]:
        local = clock().astimezone(zone)  # zone None: the system's local time zone
        offset = local.strftime("%z")
        return {
            "time": local.strftime("%H:%M"),
            "date": local.date().isoformat(),
            "weekday": local.strftime("%A"),
            "timezone": timezone or local.tzname() or "local",
            "utc_offset": f"{offset[:3]}:{offset[3:]}" if offset else "",
        }

    spec = ToolSpec("get_time", "The current local time, date and weekday where the speaker is.", _no_params())
    return FunctionTool(spec, run)


def end_conversation_tool(host: BuiltinHost) -> Tool:
    """``end_conversation``: the session closes after the current reply."""

    async def run(arguments: dict[str, Any]) -> dict[str, Any]:
        host.end_conversation()
        return {"ok": True, "note": "The conversation ends after this reply; keep the goodbye short."}

    spec = ToolSpec(
        "end_conversation",
        "End the conversation when the user says goodbye, thanks you without asking anything else, or says "
        "that is all. Say a short goodbye in the same reply.",
        _no_params(),
    )
    return FunctionTool(spec, run)


def volume_tools(host: BuiltinHost) -> list[Tool]:
    """``set_volume`` and ``get_volume`` (0-100)."""

    async def set_volume(arguments: dict[str, Any]) -> dict[str, Any]:
        level = arguments.get("level")
        if isinstance(level, float) and level.is_integer():
            level = int(level)
        if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 100:
            raise ToolError(f"level must be an integer between 0 and 100; you sent {level!r}. Nothing changed.")
        host.set_volume(level)
        return {"volume": host.volume()}

    async def get_volume(arguments: dict[str, Any]) -> dict[str, Any]:
        return {"volume": host.volume()}

    level_schema = {
        "type": "object",
        "properties": {"level": {"type": "integer", "minimum": 0, "maximum": 100,
                                 "description": "The new volume in percent. For 'louder' or 'quieter', "
                                                "read the volume first and change it by about 10-20."}},
        "required": ["level"],
        "additionalProperties": False,
    }
    return [
        FunctionTool(ToolSpec("set_volume", "Set the speaker's volume (0-100 percent).", level_schema), set_volume),
        FunctionTool(ToolSpec("get_volume", "The speaker's current volume (0-100 percent).", _no_params()),
                     get_volume),
    ]


def builtin_tools(names: Iterable[str], host: BuiltinHost, *, timezone: str | None = None,
                  now: Callable[[], datetime] | None = None) -> list[Tool]:
    """The built-in tools named in ``tools.builtin`` ('time', 'end_conversation', 'volume'; 'timers'
    comes from speaker.timers)."""
    tools: list[Tool] = []
    for name in dict.fromkeys(names):
        if name == "time":
            tools.append(time_tool(timezone=timezone, now=now))
        elif name == "end_conversation":
            tools.append(end_conversation_tool(host))
        elif name == "volume":
            tools.extend(volume_tools(host))
        elif name in PROVIDED_ELSEWHERE:
            pass
        else:
            raise ConfigError(f"unknown built-in tool {name!r}")
    return tools
