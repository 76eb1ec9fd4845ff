"""The argument validator (messages written for the model), Realtime tool checks, and the registry
refusing bad arguments before a tool runs."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from speaker.tools.base import ToolRegistry, ToolSpec, loggable_arguments
from speaker.tools.schema import check_function_tool, validate_arguments

LIGHT = {
    "type": "object",
    "properties": {
        "device": {"type": "string", "enum": ["kitchen_ceiling", "sofa_lamp"]},
        "state": {"type": "string", "enum": ["ON", "OFF"]},
        "brightness": {"type": "integer", "minimum": 0, "maximum": 254},
        "temperature": {"type": "number", "minimum": 5, "maximum": 30},
        "hex": {"type": "string", "pattern": "^#[0-9A-Fa-f]{6}$", "maxLength": 7},
        "name": {"type": "string", "minLength": 2, "maxLength": 128},
        "fast": {"type": "boolean"},
    },
    "required": ["device"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("arguments, expected", [
    ({"device": "sofa_lamp", "brightness": 300}, "brightness must be between 0 and 254; you sent 300"),
    ({"device": "sofa_lamp", "brightness": -1}, "brightness must be between 0 and 254; you sent -1"),
    ({"device": "sofa_lamp", "brightness": 12.5}, "brightness must be an integer; you sent 12.5"),
    ({"device": "sofa_lamp", "brightness": True}, "brightness must be an integer; you sent true (a boolean)"),
    ({"device": "sofa_lamp", "brightness": "high"}, 'brightness must be an integer; you sent "high"'),
    ({"device": "sofa_lamp", "temperature": "21"}, 'temperature must be a number; you sent "21"'),
    ({"device": "sofa_lamp", "fast": 1}, "fast must be a boolean; you sent 1"),
    ({"device": "garage"}, 'device must be one of "kitchen_ceiling", "sofa_lamp"; you sent "garage"'),
    ({"device": "sofa_lamp", "state": "on"}, 'state must be one of "ON", "OFF"; you sent "on" '
                                             "(the values are case-sensitive)"),
    ({"device": "sofa_lamp", "hex": "red"}, 'hex must match the pattern ^#[0-9A-Fa-f]{6}$; you sent "red"'),
    ({"device": "sofa_lamp", "name": "x" * 10_000}, "name must be at most 128 characters; you sent 10000 characters"),
    ({"device": "sofa_lamp", "name": "x"}, 'name must be at least 2 characters; you sent "x"'),
    ({}, "device is required but missing"),
    ({"device": "sofa_lamp", "topic": "zigbee2mqtt/#"},
     '"topic" is not an accepted argument (accepted: device, state, brightness, temperature, hex, name, fast)'),
    ({"device": "sofa_lamp", "temperature": float("nan")}, "temperature must be a finite number; you sent nan"),
    ({"device": ["sofa_lamp"]}, "device must be a string; you sent an array"),
])
def test_problems_name_the_argument_the_rule_and_what_was_sent(arguments: dict[str, Any], expected: str) -> None:
    assert expected in validate_arguments(LIGHT, arguments)


def test_valid_arguments_pass_and_integral_floats_count_as_integers() -> None:
    assert validate_arguments(LIGHT, {"device": "sofa_lamp", "state": "ON", "brightness": 128.0,
                                      "temperature": 21, "hex": "#ff8800", "fast": False}) == []


def test_nested_arrays_type_lists_and_unknown_keywords() -> None:
    schema = {"type": "object", "properties": {
        "items": {"type": "array", "maxItems": 2, "items": {"type": "object", "properties": {
            "n": {"type": "integer", "maximum": 3}}, "required": ["n"]}},
        "maybe": {"type": ["string", "null"]},
        "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},  # not ours to judge: ignored
    }}
    assert validate_arguments(schema, {"items": [{"n": 1}], "maybe": None, "either": 1.5}) == []
    problems = validate_arguments(schema, {"items": [{"n": 5}, {}], "maybe": 3})
    assert "items[0].n must be at most 3; you sent 5" in problems
    assert "items[1].n is required but missing" in problems
    assert "maybe must be a string or null; you sent 3" in problems
    assert validate_arguments(schema, {"items": [{"n": 1}] * 3}) == ["items must have at most 2 items; you sent 3"]


def test_function_tool_checks() -> None:
    assert check_function_tool(ToolSpec("z2m_light_set", "Switch a light.", LIGHT)) == []
    bad = ToolSpec("bad name!", " ", {"type": "object", "properties": {
        "a": {"type": "integer", "enum": ["x"]}, "b": {"type": "strng"}, "c": {"type": "string", "pattern": "("}},
        "required": ["zzz"]})
    problems = "\n".join(check_function_tool(bad))
    for expected in ("1-64 letters", "needs a description", "enum has values that are not of type integer",
                     "properties.b.type must be one of", "pattern is not a valid regular expression",
                     "required must list names of declared properties"):
        assert expected in problems
    assert check_function_tool(ToolSpec("t", "d", {"type": "array"})) != []


class Recording:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.spec = ToolSpec("light", "Switch a light.", LIGHT)

    async def call(self, arguments: dict[str, Any]) -> Any:
        self.calls.append(arguments)
        return {"ok": True}


async def test_the_registry_refuses_before_the_tool_runs_and_logs_every_call(caplog: pytest.LogCaptureFixture) -> None:
    tool = Recording()
    registry = ToolRegistry(validate=validate_arguments)
    registry.add(tool)
    caplog.set_level(logging.INFO, logger="speaker.tools.base")
    refused = await registry.execute("light", json.dumps({"device": "sofa_lamp", "brightness": 300}))
    assert not refused.ok and tool.calls == []
    assert "brightness must be between 0 and 254; you sent 300" in json.loads(refused.output)["error"]
    done = await registry.execute("light", '{"device": "sofa_lamp", "state": "ON"}')
    assert done.ok and tool.calls == [{"device": "sofa_lamp", "state": "ON"}]
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith('tool light({"device":"sofa_lamp","state":"ON"}) ok in ') for line in lines)
    assert any("refused/failed" in line and '"brightness":300' in line for line in lines)


def test_logged_arguments_mask_secrets_clip_and_stay_on_one_line() -> None:
    masked = loggable_arguments('{"user": "me", "password": "hunter2", "nested": {"api_key": "sk-1"}}')
    assert "hunter2" not in masked and "sk-1" not in masked and masked.count("***") == 2
    assert len(loggable_arguments(json.dumps({"text": "x" * 10_000}))) <= 300
    raw = loggable_arguments('not json\n{"password": "hunter2"')
    assert "\n" not in raw and raw.startswith("<not JSON>")
