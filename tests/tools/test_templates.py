"""Templates: parsing, typed substitution, leaving out missing optional arguments, and JSON built as
data so an argument cannot escape its string."""

from __future__ import annotations

import json
from typing import Any

import pytest

from speaker.tools.templates import (
    MISSING,
    Placeholder,
    Template,
    compile_payload,
    payload_bytes,
    render_tree,
)


def lookup_from(values: dict[str, Any]) -> Any:
    def lookup(ph: Placeholder) -> Any:
        key = f"{ph.name}.{ph.field}" if ph.field else ph.name
        return values.get(key, MISSING)
    return lookup


def test_parse_placeholders_and_literal_braces() -> None:
    t = Template.parse("zigbee2mqtt/{device.friendly_name}/set{{x}}")
    assert t.placeholders == (Placeholder("device", "friendly_name"),)
    assert t.render_text(lookup_from({"device.friendly_name": "Lamp"})) == "zigbee2mqtt/Lamp/set{x}"
    assert Template.parse("{state}").single == Placeholder("state")
    assert Template.parse("x{state}").single is None


@pytest.mark.parametrize("text, problem", [
    ("{state", "unclosed"),
    ("state}", "unmatched"),
    ("{a.b.c}", "not a placeholder"),
    ("{1x}", "not a placeholder"),
    ("{}", "not a placeholder"),
    ('{"scene_recall": 1}', "write the payload as a YAML mapping"),
])
def test_parse_errors(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Template.parse(text)


def test_payload_keeps_types_and_drops_missing_optional_arguments() -> None:
    tree = compile_payload({"state": "{state}", "brightness": "{brightness}", "label": "b={brightness}",
                            "color": {"hex": "{hex}", "x": "{x}"}, "fixed": 1, "list": ["{state}", "{hex}"]})
    data = render_tree(tree, lookup_from({"state": "ON", "brightness": 128}))
    assert data == {"state": "ON", "brightness": 128, "label": "b=128", "fixed": 1, "list": ["ON"]}
    assert render_tree(compile_payload({"a": "{a}"}), lookup_from({})) is MISSING
    assert render_tree(compile_payload({}), lookup_from({})) == {}


def test_an_argument_cannot_break_out_of_its_json_string() -> None:
    evil = '", "state": "OFF", "x": "\\u0000'
    data = render_tree(compile_payload({"note": "{note}", "state": "ON"}), lookup_from({"note": evil}))
    sent = payload_bytes(data)
    assert json.loads(sent) == {"note": evil, "state": "ON"}


def test_text_payloads() -> None:
    assert payload_bytes(render_tree(compile_payload("{level}"), lookup_from({"level": 40}))) == b"40"
    assert payload_bytes(render_tree(compile_payload("{t}"), lookup_from({"t": 21.0}))) == b"21"
    assert payload_bytes(render_tree(compile_payload("{on}"), lookup_from({"on": True}))) == b"true"
    assert payload_bytes(render_tree(compile_payload(""), lookup_from({}))) == b""
