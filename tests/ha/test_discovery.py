"""Home Assistant MQTT discovery on a real broker: retained configs HA accepts, re-sent when HA comes
online, removable; and the wake word select."""

from __future__ import annotations

import json
from pathlib import Path

import speaker
from speaker.ha.discovery import discovery_messages, remove_discovery
from speaker.listen.events import WakeDetected
from tests.ha.support import ROOT, FakeEngine, message_on, payload, running_device, settings_for
from tests.helpers.broker import Broker
from tests.mqtt.fixtures import eventually
from tests.mqtt.recorder import Recorder

PREFIX = "homeassistant"
NODE = "speaker_kitchen"
TWO_WAKE_WORDS = {"models": [{"name": "hey_jarvis"}, {"name": "alexa"}]}
REQUIRED = {
    # what Home Assistant's MQTT platforms need beyond the shared keys
    "sensor": {"state_topic"},
    "switch": {"command_topic", "state_topic"},
    "number": {"command_topic", "state_topic", "min", "max"},
    "select": {"command_topic", "state_topic", "options"},
    "button": {"command_topic"},
    "notify": {"command_topic"},
    "text": {"command_topic"},
    "event": {"state_topic", "event_types"},
    "binary_sensor": {"state_topic"},
}
ENTITIES = 20
"""Without transcription: 8 of the first release (less Last transcript), notify, ask, 5 events, 2 timers."""


def configs(recorder: Recorder) -> dict[str, dict[str, object]]:
    return {m.topic: payload(m) for m in recorder.messages
            if m.topic.startswith(f"{PREFIX}/") and m.topic.endswith("/config") and m.payload}


async def test_discovery_is_retained_and_complete(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path, wake=TWO_WAKE_WORDS, home={"device_name": "Kitchen speaker"})
    async with running_device(settings, wake_names=("hey_jarvis", "alexa")):
        await eventually(lambda: len(configs(recorder)) == ENTITIES)
    found = configs(recorder)
    assert all(m.retain for m in recorder.messages if m.topic in found)
    components = {topic.split("/")[1] for topic in found}
    assert components == {"sensor", "switch", "number", "select", "button", "notify", "text", "event", "binary_sensor"}
    unique_ids = set()
    for topic, config in found.items():
        component, node, key = topic.split("/")[1:4]
        assert node == NODE
        assert config["unique_id"] == f"{NODE}_{key}"
        unique_ids.add(config["unique_id"])
        assert config["device"] == {"identifiers": [NODE], "name": "Kitchen speaker",
                                    "model": "Realtime voice speaker", "manufacturer": "room-speaker project",
                                    "sw_version": speaker.__version__, "suggested_area": "Kitchen"}
        assert config["availability"] == [{"topic": f"{ROOT}/availability", "payload_available": "online",
                                           "payload_not_available": "offline"}]
        assert REQUIRED[component] <= set(config), f"{topic} lacks {REQUIRED[component] - set(config)}"
        for key_name, value in config.items():
            if key_name.endswith("_topic"):
                assert isinstance(value, str) and value.startswith(f"{ROOT}/"), (topic, key_name)
    assert len(unique_ids) == ENTITIES
    cost = found[f"{PREFIX}/sensor/{NODE}/cost_today/config"]
    assert cost["state_class"] == "total_increasing" and cost["unit_of_measurement"] == "USD"
    assert "device_class" not in cost  # 'monetary' is only valid with state_class total
    select = found[f"{PREFIX}/select/{NODE}/wake_word/config"]
    assert select["options"] == ["all", "hey_jarvis", "alexa"]
    volume = found[f"{PREFIX}/number/{NODE}/volume/config"]
    assert (volume["min"], volume["max"], volume["command_topic"]) == (0, 100, f"{ROOT}/cmd/volume")
    state = found[f"{PREFIX}/sensor/{NODE}/state/config"]
    assert state["options"] == ["idle", "listening", "thinking", "speaking", "error", "muted", "announcing"]
    assert f"{PREFIX}/sensor/{NODE}/last_transcript/config" not in found  # transcription is off
    problem = found[f"{PREFIX}/binary_sensor/{NODE}/problem/config"]
    assert problem["device_class"] == "problem" and problem["json_attributes_topic"] == f"{ROOT}/problem"


async def test_the_configs_say_what_the_speaker_accepts() -> None:
    """The switch and button send payloads the command parser takes; the text sensors fit HA's 255 chars."""
    from speaker.ha.commands import Mute, StopAll, parse_command

    settings = settings_for(None, Path("/tmp"))
    found = {topic.split("/")[3]: config for topic, config in discovery_messages(settings)}
    assert parse_command("mute", found["mute"]["payload_on"].encode()) == Mute(True)
    assert parse_command("mute", found["mute"]["payload_off"].encode()) == Mute(False)
    assert parse_command("stop", found["stop"]["payload_press"].encode()) == StopAll()
    assert "[:255]" in found["last_reply"]["value_template"]
    assert found["wake_word"]["options"] == ["hey_jarvis"]  # one model: no 'all'


async def test_discovery_is_sent_again_when_home_assistant_comes_online(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    async with running_device(settings_for(broker, tmp_path)):
        await eventually(lambda: len(configs(recorder)) == ENTITIES)
        recorder.clear()
        recorder.publish(f"{PREFIX}/status", "online")
        await eventually(lambda: len(configs(recorder)) == ENTITIES)


async def test_remove_discovery_clears_every_entity_and_the_retained_state(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path)
    # an entity an older version published and this one no longer has
    recorder.publish(f"{PREFIX}/sensor/{NODE}/old_entity/config", json.dumps({"unique_id": "x"}), retain=True)
    async with running_device(settings):
        await eventually(lambda: len(configs(recorder)) == ENTITIES + 1)
        await message_on(recorder, f"{ROOT}/cost_today")
    cleared = await remove_discovery(settings, settle_s=0.3)
    assert f"{PREFIX}/sensor/{NODE}/old_entity/config" in cleared
    assert f"{ROOT}/state" in cleared and f"{ROOT}/availability" in cleared
    fresh = Recorder(broker.host, broker.port, client_id="after-removal")
    try:
        left = await fresh.quiet(0.3)
    finally:
        fresh.close()
    assert [m.topic for m in left] == []


async def test_the_wake_word_select_changes_which_models_fire_and_is_remembered(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path, wake=TWO_WAKE_WORDS)
    async with running_device(settings, wake_names=("hey_jarvis", "alexa")) as h:
        assert h.wake is not None
        seen = await message_on(recorder, f"{ROOT}/wake_word", lambda p: p == "all")
        assert seen.retain
        recorder.publish(f"{ROOT}/cmd/wake_word", "alexa")
        await message_on(recorder, f"{ROOT}/wake_word", lambda p: p == "alexa")
        engine = h.wake._engine
        assert isinstance(engine, FakeEngine)
        engine.queued = [WakeDetected("hey_jarvis", 0.9, 1.0)]
        assert h.wake.process(b"\0\0") == []
        engine.queued = [WakeDetected("alexa", 0.8, 2.0)]
        assert [d.model for d in h.wake.process(b"\0\0")] == ["alexa"]
    async with running_device(settings, wake_names=("hey_jarvis", "alexa")) as again:
        assert again.wake is not None and again.wake.active == frozenset({"alexa"})
