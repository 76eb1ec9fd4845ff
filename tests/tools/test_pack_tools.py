"""The shipped tool packs and the pack tool runtime against a real broker, seen by an independent
subscriber: exact topic/payload/qos/retain, state reads, confirmed and unconfirmed commands, a broker
outage in the middle, and hostile arguments that must publish nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from speaker.mqtt import MqttConnection
from speaker.tools.base import ToolRegistry
from speaker.tools.loader import build_tools
from tests.helpers.broker import Broker
from tests.mqtt.fixtures import eventually
from tests.mqtt.recorder import Recorder, Seen
from tests.tools.helpers import REPO, FakeHost, result, settings_with

pytestmark = pytest.mark.broker

AVAILABILITY = "speaker/kitchen/availability"


def shipped_registry(connection: MqttConnection, broker: Broker) -> ToolRegistry:
    settings = settings_with(["tools/*.yaml"], port=broker.port, builtin=[])
    return build_tools(settings, REPO, connection, FakeHost())


def commands(recorder: Recorder) -> list[Seen]:
    return [m for m in recorder.messages if m.topic != AVAILABILITY]


Echo = tuple[str, str] | None

CASES: list[tuple[str, dict[str, Any], str, Any, Echo, bool]] = [
    # tool, arguments, topic, payload (dict: JSON, str: exact text), device echo (topic, payload), confirmed
    ("z2m_light_set", {"device": "kitchen_ceiling", "state": "ON", "brightness": 128},
     "zigbee2mqtt/Kitchen Ceiling/set", {"state": "ON", "brightness": 128},
     ("zigbee2mqtt/Kitchen Ceiling", '{"state":"ON","brightness":128,"linkquality":80}'), True),
    ("z2m_light_set", {"device": "sofa_lamp", "color_hex": "#FF8800", "color_temp": 370},
     "zigbee2mqtt/Living/Sofa Lamp/set", {"color_temp": 370, "color": {"hex": "#FF8800"}},
     ("zigbee2mqtt/Living/Sofa Lamp", '{"state":"ON","color_temp":370}'), True),
    ("z2m_light_set", {"device": "sofa_lamp", "color_x": 0.3, "color_y": 0.31},
     "zigbee2mqtt/Living/Sofa Lamp/set", {"color": {"x": 0.3, "y": 0.31}},
     ("zigbee2mqtt/Living/Sofa Lamp", '{"state":"ON"}'), True),
    ("z2m_switch_set", {"device": "coffee_machine", "state": "TOGGLE"},
     "zigbee2mqtt/Coffee Plug/set", {"state": "TOGGLE"}, ("zigbee2mqtt/Coffee Plug", '{"state":"OFF"}'), True),
    ("z2m_cover_set", {"device": "living_blinds", "position": 40},
     "zigbee2mqtt/Living/Blinds/set", {"position": 40}, ("zigbee2mqtt/Living/Blinds", '{"position":12}'), True),
    ("tasmota_power", {"device": "desk_plug", "state": "ON"},
     "cmnd/tasmota_desk/POWER", "ON", ("stat/tasmota_desk/POWER", "ON"), True),
    ("tasmota_power", {"device": "office_fan", "state": "TOGGLE"},
     "cmnd/tasmota_fan/POWER", "TOGGLE", ("stat/tasmota_fan/POWER", "OFF"), True),
    ("tasmota_dimmer", {"device": "hall_light", "level": 40},
     "cmnd/hall_dimmer/Dimmer", "40", ("stat/hall_dimmer/RESULT", '{"POWER":"ON","Dimmer":40}'), True),
    ("ha_light_set", {"device": "bedroom_light", "state": "OFF"},
     "home/bedroom/light/set", {"state": "OFF"}, ("home/bedroom/light/state", '{"state":"OFF","brightness":10}'),
     True),
    ("ha_switch_set", {"device": "tv_socket", "state": "ON"},
     "home/living/tv_socket/set", "ON", ("home/living/tv_socket/state", "ON"), True),
    ("ha_cover_set", {"device": "terrace_awning", "command": "CLOSE"},
     "home/living/awning/set", "CLOSE", ("home/living/awning/state", "closing"), True),
    ("ha_cover_position", {"device": "terrace_awning", "position": 30},
     "home/living/awning/position/set", "30", None, False),
    ("ha_set_temperature", {"device": "bedroom_heater", "temperature": 21.5},
     "home/bedroom/climate/target/set", "21.5", ("home/bedroom/climate/target", "21.5"), True),
    ("activate_scene", {"scene": "movie_night"},
     "zigbee2mqtt/Living Room Lights/set", '{"scene_recall": 1}', None, False),
    ("activate_scene", {"scene": "wake_up"},
     "cmnd/bedroom_lamp/Backlog", "Power ON; Dimmer 30; CT 370", None, False),
]


@pytest.mark.parametrize("tool, arguments, topic, payload, echo, confirmed", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
async def test_shipped_pack_publishes_exactly(
        broker: Broker, connection: MqttConnection, recorder: Recorder, tool: str, arguments: dict[str, Any],
        topic: str, payload: Any, echo: Echo, confirmed: bool) -> None:
    registry = shipped_registry(connection, broker)
    if echo is not None:
        recorder.reply(topic, lambda m: (echo[0], echo[1], False))
    outcome = await registry.execute(tool, json.dumps(arguments))
    out = result(outcome)
    assert outcome.ok, out
    assert out["confirmed"] is confirmed, out
    await eventually(lambda: len(commands(recorder)) >= 1 + (echo is not None))
    sent = commands(recorder)[0]
    assert (sent.topic, sent.qos, sent.retain) == (topic, 1, False)
    if isinstance(payload, dict):
        assert json.loads(sent.payload) == payload and out["sent"] == payload
    else:
        assert sent.text == payload
    assert [m.topic for m in commands(recorder)].count(topic) == 1


async def test_state_read_from_the_retained_message(broker: Broker, connection: MqttConnection,
                                                    recorder: Recorder) -> None:
    recorder.publish("zigbee2mqtt/Kitchen Ceiling",
                     '{"state":"ON","brightness":200,"linkquality":99,"update":{"state":"idle"}}', retain=True)
    recorder.publish("home/bedroom/climate/current", "19.5", retain=True)
    registry = shipped_registry(connection, broker)
    out = result(await registry.execute("z2m_state", '{"device": "kitchen_ceiling"}'))
    assert out == {"device": "kitchen_ceiling", "name": "Kitchen ceiling light",
                   "state": {"state": "ON", "brightness": 200}}
    out = result(await registry.execute("ha_room_temperature", '{"device": "bedroom_heater"}'))
    assert out["state"] == 19.5
    assert not [m for m in recorder.messages if m.topic.endswith("/get")], "asked the device although it was known"


async def test_state_read_asks_a_device_that_has_not_reported(broker: Broker, connection: MqttConnection,
                                                              recorder: Recorder) -> None:
    recorder.reply("cmnd/tasmota_desk/POWER", lambda m: ("stat/tasmota_desk/POWER", "OFF", False)
                   if m.payload == b"" else None)
    registry = shipped_registry(connection, broker)
    out = result(await registry.execute("tasmota_power_state", '{"device": "desk_plug"}'))
    assert out == {"device": "desk_plug", "name": "Desk plug", "state": "OFF"}
    request = next(m for m in recorder.messages if m.topic == "cmnd/tasmota_desk/POWER")
    assert request.payload == b"" and request.qos == 1 and not request.retain


QUICK_PACK = """\
inventory:
  kitchen:
    - {id: lamp, name: Lamp, kind: light, mqtt: {friendly_name: Lamp}}
tools:
  - name: quick_set
    description: Switch the lamp and wait briefly for its echo.
    parameters:
      device: {type: device, required: true}
      state: {type: string, enum: ["ON", "OFF"], required: true}
    action: {topic: "test/{device.friendly_name}/set", payload: {state: "{state}"}}
    state: {topic: "test/{device.friendly_name}", confirm: {match: {state: "{state}"}, timeout_s: 0.3}}
  - name: quick_read
    description: Read the lamp.
    parameters: {device: {type: device, required: true}}
    state: {topic: "test/{device.friendly_name}", read: retained, timeout_s: 0.2}
  - name: same_topic
    description: A device whose state topic is its command topic (optimistic).
    parameters:
      device: {type: device, required: true}
    action: {topic: "test/{device.friendly_name}/both", payload: "ON"}
    state: {topic: "test/{device.friendly_name}/both", confirm: {match: "ON", timeout_s: 0.3}}
  - name: free_topic
    description: A free-text topic level (to exercise the topic guard).
    parameters:
      room: {type: string, required: true, maxLength: 20000}
      note: {type: string, maxLength: 20000}
    action: {topic: "test/{room}/say", payload: {room: "{room}", note: "{note}"}}
"""


@pytest.fixture
def quick(tmp_path: Path, broker: Broker, connection: MqttConnection) -> ToolRegistry:
    (tmp_path / "quick.yaml").write_text(QUICK_PACK)
    settings = settings_with(["quick.yaml", f"{REPO}/tools/zigbee2mqtt.yaml"], port=broker.port, builtin=[])
    return build_tools(settings, tmp_path, connection, FakeHost())


async def test_command_without_echo_is_sent_but_not_confirmed(quick: ToolRegistry, recorder: Recorder) -> None:
    out = result(await quick.execute("quick_set", '{"device": "lamp", "state": "ON"}'))
    assert out["ok"] is True and out["confirmed"] is False
    assert "sent but not confirmed" in out["note"]
    await recorder.wait_topic("test/Lamp/set")


async def test_command_answered_with_another_state_is_not_confirmed(quick: ToolRegistry,
                                                                    recorder: Recorder) -> None:
    recorder.reply("test/Lamp/set", lambda m: ("test/Lamp", '{"state":"OFF"}', False))
    out = result(await quick.execute("quick_set", '{"device": "lamp", "state": "ON"}'))
    assert out["confirmed"] is False and out["state"] == {"state": "OFF"}
    assert "does not match" in out["note"]


async def test_our_own_command_echoed_back_does_not_count_as_confirmation(quick: ToolRegistry,
                                                                          recorder: Recorder) -> None:
    out = result(await quick.execute("same_topic", '{"device": "lamp"}'))
    assert out["confirmed"] is False and "not confirmed" in out["note"]
    assert (await recorder.wait_topic("test/Lamp/both")).payload == b"ON"


async def test_read_with_no_state_says_so(quick: ToolRegistry) -> None:
    outcome = await quick.execute("quick_read", '{"device": "lamp"}')
    assert not outcome.ok
    assert "Lamp has not reported its state" in result(outcome)["error"]


async def test_state_topics_are_subscribed_in_advance_and_read_during_an_outage(
        broker: Broker, connection: MqttConnection, quick: ToolRegistry, recorder: Recorder) -> None:
    recorder.publish("test/Lamp", '{"state":"ON"}', retain=True)
    # nobody called a tool yet: build_tools subscribed the state topic, so the cache fills by itself
    await eventually(lambda: connection.last("test/Lamp") is not None)
    broker.stop()
    await eventually(lambda: not connection.connected)
    out = result(await quick.execute("quick_read", '{"device": "lamp"}'))
    assert out["state"] == {"state": "ON"} and "not reachable" in out["note"]


async def test_broker_stopped_mid_command_then_back(broker: Broker, connection: MqttConnection,
                                                    quick: ToolRegistry) -> None:
    broker.stop()
    first = await quick.execute("quick_set", '{"device": "lamp", "state": "ON"}')  # loss may not be seen yet
    assert not first.ok and "MQTT broker" in result(first)["error"]
    await eventually(lambda: not connection.connected)
    second = await quick.execute("quick_set", '{"device": "lamp", "state": "OFF"}')
    assert not second.ok
    assert result(second)["error"] == "The home's MQTT broker is not reachable right now; nothing was sent."
    broker.start()
    rec = Recorder(broker.host, broker.port, client_id="after-outage")
    try:
        await rec.wait_for(lambda m: m.topic == AVAILABILITY and m.payload == b"online", 5)
        rec.reply("test/Lamp/set", lambda m: ("test/Lamp", m.payload.decode(), False))
        third = await quick.execute("quick_set", '{"device": "lamp", "state": "ON"}')
        assert third.ok and result(third)["confirmed"] is True
        assert [m.payload for m in rec.messages if m.topic == "test/Lamp/set"] == [b'{"state":"ON"}']
    finally:
        rec.close()


HOSTILE: list[tuple[str, str, str]] = [
    ("z2m_light_set", '{"device": "garage_door", "state": "ON"}', "device must be one of"),
    ("z2m_light_set", '{"device": "kitchen_ceiling", "brightness": 300}',
     "brightness must be between 0 and 254; you sent 300"),
    ("z2m_light_set", '{"device": "kitchen_ceiling", "brightness": "full"}', "brightness must be an integer"),
    ("z2m_light_set", '{"device": "kitchen_ceiling", "brightness": true}', "brightness must be an integer"),
    ("z2m_light_set", '{"device": "kitchen_ceiling", "state": 1}', "state must be a string"),
    ("z2m_light_set", '{"device": "kitchen_ceiling", "state": "ON", "topic": "zigbee2mqtt/#"}',
     '"topic" is not an accepted argument'),
    ("z2m_light_set", '{"device": "kitchen_ceiling/../#", "state": "ON"}', "device must be one of"),
    ("z2m_light_set", '{"device": "kitchen_ceiling", "color_hex": "#FF0000\\"}, \\"state\\": \\"OFF"}',
     "color_hex must match the pattern"),
    ("z2m_light_set", '{"device": "kitchen_ceiling", "state": ', "not valid JSON"),
    ("z2m_light_set", '["ON"]', "must be a JSON object"),
    ("z2m_light_set", '{"device": "kitchen_ceiling", "brightness": NaN}', "brightness must be an integer"),
    ("z2m_light_set", '{"device": "kitchen_ceiling"}', "Nothing to send: give at least one of"),
    ("z2m_light_set", '{"state": "ON"}', "device is required but missing"),
    ("z2m_everything", "{}", "There is no tool named"),
    ("free_topic", '{"room": "kitchen/light"}', "room cannot be used in an MQTT topic: it contains '/'"),
    ("free_topic", '{"room": "#"}', "it contains '#'"),
    ("free_topic", '{"room": "+"}', "it contains '+'"),
    ("free_topic", '{"room": "a\\u0000b"}', "it contains a NUL character"),
    ("free_topic", '{"room": "line\\nbreak"}', "it contains a control character"),
    ("free_topic", '{"room": "$SYS"}', "it starts with '$'"),
    ("free_topic", json.dumps({"room": "x" * 5_000}), "it is 5000 characters long (at most 128)"),
    ("free_topic", json.dumps({"room": "x" * 10_000}), "at most 8192 are accepted"),
    ("free_topic", json.dumps({"room": "kitchen", "note": "y" * 10_000}), "at most 8192 are accepted"),
]


async def test_hostile_arguments_publish_nothing(quick: ToolRegistry, recorder: Recorder) -> None:
    for tool, arguments, expected in HOSTILE:
        outcome = await quick.execute(tool, arguments)
        assert not outcome.ok, (tool, arguments)
        error = result(outcome)["error"]
        assert expected in error, (arguments, error)
    assert commands(await _quiet(recorder)) == [], "a refused call published something"
    # the same path does publish a sane call, so the silence above means something
    out = result(await quick.execute("free_topic", json.dumps({"room": "kitchen", "note": 'say "hi"}'})))
    assert out["ok"] is True
    sent = await recorder.wait_topic("test/kitchen/say")
    assert json.loads(sent.payload) == {"room": "kitchen", "note": 'say "hi"}'}


async def _quiet(recorder: Recorder) -> Recorder:
    await recorder.quiet(0.3)
    return recorder
