"""Tool pack loading: the shipped packs, and config errors that point at file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from speaker.errors import ConfigError
from speaker.tools.base import ToolSpec
from speaker.tools.mqtt_tool import parameters_schema
from speaker.tools.packs import load_pack
from speaker.tools.schema import check_function_tool
from tests.tools.helpers import REPO, SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_packs_load_and_every_tool_is_a_valid_realtime_function(name: str) -> None:
    pack = load_pack(REPO / "tools" / f"{name}.yaml")
    assert pack.tools and not pack.skipped
    for tool in pack.tools:
        schema = parameters_schema(tool, "kitchen")
        assert check_function_tool(ToolSpec(tool.name, tool.description, schema)) == []
        for param in tool.devices:
            kinds = tool.params[param].kinds
            enum = schema["properties"][param]["enum"]
            assert enum == [d.id for d in pack.devices.values() if kinds is None or d.kind in kinds]


def test_device_enums_describe_devices_and_the_speakers_room() -> None:
    pack = load_pack(REPO / "tools" / "zigbee2mqtt.yaml")
    light = next(t for t in pack.tools if t.name == "z2m_light_set")
    device = parameters_schema(light, "kitchen")["properties"]["device"]
    assert device["enum"] == ["kitchen_ceiling", "sofa_lamp"]
    assert "sofa_lamp = Sofa lamp (living room): the floor lamp next to the sofa" in device["description"]
    assert "This speaker is in the kitchen" in device["description"]
    assert "This speaker is in" not in parameters_schema(light, "garage")["properties"]["device"]["description"]


GOOD_HEAD = """\
inventory:
  kitchen:
    - id: lamp
      name: Lamp
      kind: light
      mqtt: {friendly_name: Lamp}
    - id: plug
      name: Plug
      kind: plug
      mqtt: {topic: plug1}
tools:
"""


def write(tmp_path: Path, body: str, head: str = GOOD_HEAD) -> Path:
    path = tmp_path / "pack.yaml"
    path.write_text(head + textwrap.dedent(body))
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_pack(path)
    return str(info.value)


def test_unknown_placeholder_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        - name: set_light
          description: Switch.
          parameters:
            device: {type: device, kinds: [light], required: true}
          action:
            topic: "z/{device.friendly_name}/set"
            payload: {state: "{state}"}
        """)
    assert f"{path}:18 tools[0].action.payload: unknown placeholder {{state}}" in error_of(path)


def test_a_device_without_the_field_a_template_uses(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        - name: set_any
          description: Switch.
          parameters:
            device: {type: device, required: true}
          action: {topic: "z/{device.friendly_name}/set", payload: "ON"}
        """)
    message = error_of(path)
    assert f"{path}:16 tools[0].action.topic: {{device.friendly_name}}: device 'plug' ({path}:7) has no mqtt " \
           "field 'friendly_name'" in message


def test_optional_argument_in_a_topic_or_text_payload(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        - name: say
          description: Say.
          parameters:
            room: {type: string, enum: [a, b]}
            text: {type: string}
          action: {topic: "say/{room}", payload: "{text}"}
        """)
    message = error_of(path)
    assert f"{path}:17 tools[0].action.topic: {{room}}: parameter 'room' is used in the topic, so it must be " \
           "'required: true'" in message
    assert f"{path}:17 tools[0].action.payload: {{text}}: parameter 'text' is used in a text payload" in message


def test_state_topics_use_device_fields_only(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        - name: read_room
          description: Read.
          parameters:
            room: {type: string, enum: [a, b], required: true}
          state: {topic: "state/{room}", read: retained}
        """)
    assert f"{path}:16 tools[0].state.topic: {{room}}: a state topic may use only device parameters" in error_of(path)


def test_inventory_errors(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        - name: set_plug
          description: Switch.
          parameters:
            device: {type: device, kinds: [plug], required: true}
          action: {topic: "cmnd/{device.topic}/POWER", payload: "ON"}
        """, head=GOOD_HEAD.replace("plug1", "'plugs/#'").replace("id: lamp", "id: plug"))
    message = error_of(path)
    assert f"{path}:7 inventory.kitchen[1].id: device id 'plug' is used twice" in message
    path = write(tmp_path, """\
        - name: set_plug
          description: Switch.
          parameters:
            device: {type: device, kinds: [plug], required: true}
          action: {topic: "cmnd/{device.topic}/POWER", payload: "ON"}
        """, head=GOOD_HEAD.replace("plug1", "'plugs/#'"))
    assert f"{path}:10 inventory.kitchen[1].mqtt.topic: cannot be used in a topic" in error_of(path)


@pytest.mark.parametrize("body, line, expected", [
    ("- name: x\n  description: d\n  action: {topic: a, payloads: b}\n", 14, "tools[0].action.payloads: unknown key"),
    ("- name: x\n  description: d\n  parameters: {device: {type: device, kinds: [lihgt]}}\n  action: {topic: a}\n",
     14, "tools[0].parameters.device.kinds[0]: Input should be"),
    ("- name: x\n  description: d\n  parameters: {b: {type: integer, minimum: 9, maximum: 1}}\n  action: {topic: a}\n",
     14, "minimum is greater than maximum"),
    ("- name: x\n  description: d\n  action: {topic: a}\n  state: {topic: b, read: retained}\n", 12,
     "a tool either acts"),
    ("- name: x\n  description: d\n  state: {topic: b, read: retained, confirm: {}}\n", 14,
     "give exactly one of 'read: retained' or 'confirm'"),
    ("- name: bad name\n  description: d\n  action: {topic: a}\n", 12, "tools[0].name: String should match"),
    ("- name: x\n  description: d\n  action: {topic: a, qos: 2}\n", 14, "tools[0].action.qos"),
    # a parameter schema the validator could not use is refused when the pack loads, at its line
    ("- name: x\n  description: d\n  parameters: {b: {type: string, pattern: '('}}\n  action: {topic: a}\n",
     14, "tools[0].parameters.b: pattern is not a valid regular expression"),
    ("- name: x\n  description: d\n  parameters: {b: {type: strng}}\n  action: {topic: a}\n",
     14, "tools[0].parameters.b.type: Input should be 'string', 'integer', 'number', 'boolean' or 'device'"),
])
def test_schema_errors_point_at_the_line(tmp_path: Path, body: str, line: int, expected: str) -> None:
    path = write(tmp_path, textwrap.indent(body, "  "))
    message = error_of(path)
    assert f"{path}:{line} " in message and expected in message, message


def test_yaml_syntax_and_duplicate_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "  - name: x\n    description: [unclosed\n")
    assert f"{path}:" in error_of(path) and "YAML syntax error" in error_of(path)
    path = write(tmp_path, "  - name: x\n    name: y\n    description: d\n    action: {topic: a}\n")
    assert f"{path}:13 tools[0].name: duplicate key" in error_of(path)


def test_a_tool_whose_device_kind_is_not_in_the_inventory_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        - name: blinds
          description: Move blinds.
          parameters:
            device: {type: device, kinds: [cover], required: true}
          action: {topic: "z/{device.friendly_name}/set", payload: {state: OPEN}}
        - name: lamp_on
          description: Lamp on.
          parameters:
            device: {type: device, kinds: [light], required: true}
          action: {topic: "z/{device.friendly_name}/set", payload: {state: "ON"}}
        """)
    pack = load_pack(path)
    assert [t.name for t in pack.tools] == ["lamp_on"]
    assert pack.skipped == (("blinds", "no inventory device of kind cover for parameter 'device'"),)
