"""Helpers for tool tests: a recording BuiltinHost, settings naming tool packs, outcome parsing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from speaker.config.schema import Settings
from speaker.tools.base import ToolOutcome

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ("zigbee2mqtt", "tasmota", "homeassistant", "scenes")


class FakeHost:
    """A BuiltinHost that records what the tools asked for."""

    def __init__(self, volume: int = 50) -> None:
        self.level = volume
        self.ended = 0
        self.set_calls: list[int] = []

    def end_conversation(self) -> None:
        self.ended += 1

    def set_volume(self, level: int) -> None:
        self.set_calls.append(level)
        self.level = level

    def volume(self) -> int:
        return self.level


def settings_with(packs: list[str], *, port: int = 1883, site_id: str = "kitchen",
                  builtin: list[str] | None = None, timeout_s: float = 8.0) -> Settings:
    tools: dict[str, Any] = {"packs": packs, "timeout_s": timeout_s}
    if builtin is not None:
        tools["builtin"] = builtin
    return Settings.model_validate({"mqtt": {"host": "127.0.0.1", "port": port, "site_id": site_id},
                                    "tools": tools})


def result(outcome: ToolOutcome) -> dict[str, Any]:
    data = json.loads(outcome.output)
    assert isinstance(data, dict)
    return data
