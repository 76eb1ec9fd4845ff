"""The discovery payloads as Home Assistant itself sees them: validated by HA's own MQTT platform schemas
(``DISCOVERY_SCHEMA`` of each platform) and the templates rendered by HA's template engine.

Home Assistant needs Python 3.13, so it lives in its own venv (``script/ha-venv`` makes ``.havenv``;
``SPEAKER_HA_PYTHON`` names another interpreter). Without it these tests skip, saying so; the hand-written
check of the documented required keys in test_discovery.py runs everywhere."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from speaker.ha.discovery import discovery_messages
from speaker.timers.model import local_iso
from tests.ha.support import settings_for

REPO = Path(__file__).resolve().parents[2]
CHECK = Path(__file__).with_name("ha_check.py")


def ha_python() -> str:
    python = os.environ.get("SPEAKER_HA_PYTHON") or str(REPO / ".havenv" / "bin" / "python")
    if not Path(python).exists():
        pytest.skip("Home Assistant is not installed: run script/ha-venv (Python 3.13 + homeassistant "
                    "2025.4.4 in .havenv) or set SPEAKER_HA_PYTHON")
    return python


def ask_home_assistant(configs: list[tuple[str, dict[str, Any]]],
                       renders: list[tuple[str, str]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    request = {"configs": configs, "renders": renders}
    done = subprocess.run([ha_python(), str(CHECK)], input=json.dumps(request), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def by_platform(settings_list: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(topic.split("/")[1], payload) for s in settings_list for topic, payload in discovery_messages(s)]


def test_every_entity_is_valid_for_home_assistant(tmp_path: Path) -> None:
    variants = [
        settings_for(None, tmp_path),
        settings_for(None, tmp_path, realtime={"transcription": {}},
                     wake={"models": [{"name": "hey_jarvis"}, {"name": "alexa"}]},
                     home={"area": "Kitchen", "configuration_url": "http://speaker.local:8080/"},
                     hardware={"board": "respeaker_2mic"}),
        settings_for(None, tmp_path, home={"retain_last_reply": False, "area": ""}),
    ]
    configs = by_platform(variants)
    assert {c for c, _ in configs} >= {"notify", "text", "event", "sensor"}
    # the check can fail: a copy of two configs with what HA refuses goes along
    event = next(p for c, p in configs if c == "event")
    sensor = next(p for c, p in configs if c == "sensor")
    broken = [("event", {k: v for k, v in event.items() if k != "event_types"}),
              ("sensor", {**sensor, "device_class": "loudness"})]
    result = ask_home_assistant([*configs, *broken])
    assert [i for i, _ in result["errors"]] == [len(configs), len(configs) + 1]


def test_home_assistant_renders_the_timers_sensor_and_the_text_sensors(tmp_path: Path) -> None:
    found = {topic.split("/")[3]: payload for topic, payload in discovery_messages(settings_for(None, tmp_path))}
    timers = json.dumps([
        {"id": "t1", "name": "pasta", "duration_s": 600, "remaining_s": 0, "ends_at": local_iso(1000.0),
         "ringing": True},
        {"id": "t2", "name": "eggs", "duration_s": 420, "remaining_s": 400, "ends_at": local_iso(2000.0),
         "ringing": False},
        {"id": "t3", "name": "tea", "duration_s": 900, "remaining_s": 880, "ends_at": local_iso(3000.0),
         "ringing": False},
    ])
    renders = [
        (found["timers"]["value_template"], timers),
        (found["timers"]["json_attributes_template"], timers),
        (found["next_timer"]["value_template"], timers),
        (found["next_timer"]["value_template"], "[]"),
        (found["last_reply"]["value_template"], json.dumps({"text": "x" * 300, "ts": 1.0})),
    ]
    count, attributes, next_timer, none_left, reply = ask_home_assistant([], renders)["rendered"]
    assert count == "3"
    attrs = json.loads(attributes)
    assert attrs["next"]["name"] == "eggs"  # the next to finish, not the one already ringing
    assert attrs["ringing"] == ["pasta"] and len(attrs["timers"]) == 3
    assert next_timer == local_iso(2000.0)
    assert none_left == "None"  # HA's MQTT sensor turns this into 'unknown'
    assert reply == "x" * 255
