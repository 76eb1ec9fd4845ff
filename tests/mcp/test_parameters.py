"""MCP input schemas become self-contained Realtime function parameters."""

from __future__ import annotations

from typing import Any

from speaker.mcp.parameters import function_parameters


def test_pydantic_style_schema_loses_titles_and_meta_keys() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "set_lightArguments",
        "type": "object",
        "properties": {
            "room": {"title": "Room", "type": "string"},
            "on": {"title": "On", "type": "boolean"},
            "brightness": {"default": 100, "title": "Brightness", "type": "integer", "minimum": 0},
        },
        "required": ["room", "on"],
    }
    assert function_parameters(schema) == {
        "type": "object",
        "properties": {
            "room": {"type": "string"},
            "on": {"type": "boolean"},
            "brightness": {"default": 100, "type": "integer", "minimum": 0},
        },
        "required": ["room", "on"],
    }


def test_a_property_named_title_is_kept() -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string", "title": "Title"}}}
    assert function_parameters(schema) == {"type": "object", "properties": {"title": {"type": "string"}}}


def test_local_refs_are_inlined_with_sibling_keywords_winning() -> None:
    schema = {
        "type": "object",
        "$defs": {
            "Light": {"type": "object", "description": "A light", "properties": {"room": {"type": "string"}}},
            "Scene": {"type": "object", "properties": {"lights": {"type": "array",
                                                                  "items": {"$ref": "#/$defs/Light"}}}},
        },
        "definitions": {"Mood": {"enum": ["calm", "party"]}},
        "properties": {
            "scene": {"$ref": "#/$defs/Scene", "description": "What to apply"},
            "mood": {"$ref": "#/definitions/Mood"},
        },
    }
    assert function_parameters(schema) == {
        "type": "object",
        "properties": {
            "scene": {"type": "object", "description": "What to apply", "properties": {
                "lights": {"type": "array", "items": {"type": "object", "description": "A light",
                                                      "properties": {"room": {"type": "string"}}}}}},
            "mood": {"enum": ["calm", "party"]},
        },
    }


def test_recursive_remote_and_dangling_refs_become_any_value() -> None:
    schema = {
        "type": "object",
        "$defs": {"Node": {"type": "object", "properties": {
            "child": {"$ref": "#/$defs/Node", "description": "the next node"}}}},
        "properties": {
            "tree": {"$ref": "#/$defs/Node"},
            "remote": {"$ref": "https://example.com/schema.json"},
            "dangling": {"$ref": "#/$defs/Missing"},
            "whole": {"$ref": "#"},
        },
    }
    out = function_parameters(schema)
    assert out is not None
    assert out["properties"]["tree"] == {"type": "object", "properties": {"child": {"description": "the next node"}}}
    assert out["properties"]["remote"] == {}
    assert out["properties"]["dangling"] == {}
    assert out["properties"]["whole"] == {}
    assert "$ref" not in repr(out) and "$defs" not in repr(out)


def test_top_level_ref_is_followed() -> None:
    schema = {"$ref": "#/$defs/Args", "$defs": {"Args": {"type": "object", "properties": {"a": {"type": "integer"}}}}}
    assert function_parameters(schema) == {"type": "object", "properties": {"a": {"type": "integer"}}}


def test_top_level_combinators_are_dropped_but_kept_inside() -> None:
    inner = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    schema = {"type": "object", "properties": {"x": inner}, "anyOf": [{"required": ["x"]}], "not": {}}
    assert function_parameters(schema) == {"type": "object", "properties": {"x": inner}}


def test_object_without_properties_gets_an_empty_map_and_boolean_schemas_become_objects() -> None:
    assert function_parameters({"type": "object"}) == {"type": "object", "properties": {}}
    schema = {"type": "object", "properties": {"any": True, "never": False}, "additionalProperties": False}
    assert function_parameters(schema) == {"type": "object", "properties": {"any": {}, "never": {"not": {}}},
                                           "additionalProperties": False}
    assert function_parameters({"properties": {"a": {"type": "string"}}}) == {
        "type": "object", "properties": {"a": {"type": "string"}}}
    assert function_parameters({"type": ["object", "null"], "properties": {}}) == {"type": "object",
                                                                                  "properties": {}}


def test_non_object_schemas_are_refused() -> None:
    bad: list[Any] = [None, "object", {"type": "string"}, {"type": ["array", "null"]}, {}, {"anyOf": []}]
    for schema in bad:
        assert function_parameters(schema) is None, schema


def test_the_input_is_not_modified() -> None:
    schema = {"type": "object", "title": "T", "$defs": {"A": {"type": "string", "title": "A"}},
              "properties": {"a": {"$ref": "#/$defs/A"}}}
    before = repr(schema)
    function_parameters(schema)
    assert repr(schema) == before
