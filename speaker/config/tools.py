"""Settings of ``tools:``: tool packs and built-in tools."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from speaker.config.section import Section

BuiltinTool = Literal["time", "end_conversation", "volume", "timers"]
_ALL_BUILTINS: tuple[BuiltinTool, ...] = ("time", "end_conversation", "volume", "timers")


class ToolsSettings(Section):
    """Function tools the model may call."""

    packs: list[str] = Field(default_factory=list)
    """Tool pack files or globs, relative to the config file (e.g. '../tools/zigbee2mqtt.yaml')."""
    builtin: list[BuiltinTool] = Field(default_factory=lambda: list(_ALL_BUILTINS))
    """Built-in tools: local time/date, ending the conversation, speaker volume, kitchen timers."""
    timeout_s: float = Field(default=8.0, gt=0, le=120)
    """A tool call that takes longer is answered with a timeout error."""
