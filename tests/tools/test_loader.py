"""build_tools: pack paths relative to the config, duplicates named with both places, MQTT off."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from speaker.errors import ConfigError
from speaker.tools.loader import build_tools, resolve_pack_paths
from tests.tools.helpers import REPO, SHIPPED, FakeHost, settings_with

PACK = """\
inventory:
  kitchen:
    - {{id: lamp, name: Lamp, kind: light, mqtt: {{friendly_name: Lamp}}}}
tools:
  - name: {name}
    description: Switch the lamp.
    parameters:
      device: {{type: device, required: true}}
    action: {{topic: "z/{{device.friendly_name}}/set", payload: {{state: "ON"}}}}
"""


def test_globs_are_relative_to_the_config_folder(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    shutil.copytree(REPO / "tools", tmp_path / "tools")
    found = resolve_pack_paths(["../tools/*.yaml", "../tools/scenes.yaml"], config)
    assert sorted(p.stem for p in found) == sorted(SHIPPED)  # each file once
    with pytest.raises(ConfigError, match=r"tools.packs\[0\]: '../tools/nope\*.yaml' matches no file"):
        resolve_pack_paths(["../tools/nope*.yaml"], config)
    with pytest.raises(ConfigError, match=r"tools.packs\[1\]: tool pack 'missing.yaml' not found"):
        resolve_pack_paths(["../tools/scenes.yaml", "missing.yaml"], config)


def test_a_tool_name_defined_twice_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(PACK.format(name="lamp_on"))
    (tmp_path / "b.yaml").write_text("\n\n" + PACK.format(name="lamp_on"))
    with pytest.raises(ConfigError) as info:
        build_tools(settings_with(["*.yaml"]), tmp_path, None, FakeHost())
    message = str(info.value)
    assert f"tool 'lamp_on' is defined twice: {tmp_path / 'a.yaml'}:5 and {tmp_path / 'b.yaml'}:7" in message


def test_a_pack_tool_may_not_take_a_builtin_name(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(PACK.format(name="get_time"))
    with pytest.raises(ConfigError, match=r"tool 'get_time' is defined twice: built-in and .*a.yaml:5"):
        build_tools(settings_with(["a.yaml"]), tmp_path, None, FakeHost())


def test_without_mqtt_packs_are_checked_but_not_offered(tmp_path: Path) -> None:
    registry = build_tools(settings_with(["tools/*.yaml"]), REPO, None, FakeHost())
    assert [s.name for s in registry.specs()] == ["get_time", "end_conversation", "set_volume", "get_volume"]
    (tmp_path / "bad.yaml").write_text(PACK.format(name="lamp_on").replace("friendly_name}/set", "nope}/set"))
    expected = r"bad.yaml:9 tools\[0\].action.topic: {device.nope}: device 'lamp' .* has no mqtt field 'nope'"
    with pytest.raises(ConfigError, match=expected):
        build_tools(settings_with(["bad.yaml"]), tmp_path, None, FakeHost())
