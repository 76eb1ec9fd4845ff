"""The argument validator (jsonschema, messages written for the model), Realtime tool checks, and the
registry refusing bad arguments before a tool runs."""

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


def test_nested_arrays_type_lists_and_combinators() -> None:
    schema = {"type": "object", "properties": {
        "items": {"type": "array", "maxItems": 2, "items": {"type": "object", "properties": {
            "n": {"type": "integer", "maximum": 3}}, "required": ["n"]}},
        "maybe": {"type": ["string", "null"]},
        "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "unknown": {"x-widget": "slider"},  # keywords JSON Schema does not define are ignored
    }}
    assert validate_arguments(schema, {"items": [{"n": 1}], "maybe": None, "either": 2, "unknown": 7}) == []
    assert validate_arguments(schema, {"either": 1.5}) == ["either must be a string or an integer; you sent 1.5"]
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


TREE = {
    "type": "object",
    "$defs": {"Node": {"type": "object", "properties": {
        "value": {"type": "integer"}, "child": {"$ref": "#/$defs/Node"}}, "additionalProperties": False}},
    "properties": {
        "tree": {"$ref": "#/$defs/Node"},
        "remote": {"$ref": "https://example.com/schema.json"},
        "maybe": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]},
        "count": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 100}]},
        "word": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "string", "pattern": "^a"}]},
        "never": {"not": {}},
    },
}


@pytest.mark.parametrize("arguments, expected", [
    ({"tree": {"child": {"child": {"value": "x"}}}}, ['tree.child.child.value must be an integer; you sent "x"']),
    ({"tree": {"child": {"colour": 1}}},
     ['"colour" in tree.child is not an accepted argument (accepted: value, child)']),
    ({"maybe": "abcdef"}, ["maybe must be at most 3 characters; you sent 6 characters"]),
    ({"maybe": 5}, ["maybe must be a string or null; you sent 5"]),
    ({"count": 150}, ["count fits more than one of its allowed forms; make it fit exactly one; you sent 150"]),
    ({"count": 2.5}, ["count must be at least 100; you sent 2.5"]),
    ({"word": "bcdef"}, ["word fits none of its allowed forms: (1) word must be at most 3 characters; you sent 5 "
                         'characters (2) word must match the pattern ^a; you sent "bcdef"']),
    ({"never": 1}, ["never is not accepted"]),
])
def test_refs_and_combinators_are_honoured(arguments: dict[str, Any], expected: list[str]) -> None:
    assert validate_arguments(TREE, arguments) == expected


def test_valid_arguments_under_refs_and_combinators_pass_and_nothing_is_fetched(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a $ref made the validator fetch a URL")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    ok = {"tree": {"value": 1, "child": {"child": {}}}, "remote": {"anything": [1]}, "maybe": None, "count": 3,
          "word": "abcdef"}
    assert validate_arguments(TREE, ok) == []


def test_the_best_match_comes_first_and_a_failed_type_says_it_alone() -> None:
    # the missing argument is the shallowest problem; the wrong type hides the enum and the length
    schema = {"type": "object", "required": ["device"], "properties": {
        "a": {"enum": ["x", "y"], "maxLength": 1, "type": "string"}, "device": {"type": "string"}}}
    assert validate_arguments(schema, {"a": 7}) == ["device is required but missing",
                                                    "a must be a string; you sent 7"]


def test_a_schema_that_is_not_json_schema_is_not_used_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="speaker.tools.schema")
    broken = {"type": "object", "properties": {"a": {"type": "strng"}}}
    assert validate_arguments(broken, {"a": 1}) == []
    assert "not valid JSON Schema" in caplog.text and "parameters.properties.a.type" in caplog.text
    dangling = {"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}}
    assert validate_arguments(dangling, {"a": 1}) == []
    assert "cannot check tool arguments" in caplog.text


def test_draft_07_tuple_items_from_an_older_server_are_understood() -> None:
    schema = {"type": "object", "properties": {"pair": {"type": "array", "items": [{"type": "string"},
                                                                                  {"type": "integer"}]}}}
    assert validate_arguments(schema, {"pair": ["a", 1]}) == []
    assert validate_arguments(schema, {"pair": ["a", "b"]}) == ['pair[1] must be an integer; you sent "b"']
