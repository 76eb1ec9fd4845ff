"""Issue 15 on a real broker: Home Assistant can make the speaker speak (notify) and ask (text + answer
event), trigger on its events, see its timers; the device is well described; states tell the truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from speaker.core import outputs as O
from speaker.core.events import Announce, StartConversation
from speaker.core.state import State
from speaker.ha.discovery import discovery_messages
from tests.ha.support import ROOT, message_on, payload, running_device, settings_for
from tests.helpers.broker import Broker
from tests.mqtt.fixtures import eventually
from tests.mqtt.recorder import Recorder
from tests.timers.support import FakeClock

PREFIX = "homeassistant"
NODE = "speaker_kitchen"


def entity(settings: Any, component: str, key: str) -> dict[str, Any]:
    for topic, config in discovery_messages(settings):
        if topic == f"{PREFIX}/{component}/{NODE}/{key}/config":
            return config
    raise AssertionError(f"no {component} {key}")


async def test_notify_send_message_speaks_the_text(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path)
    notify = entity(settings, "notify", "announce")
    async with running_device(settings) as h:
        # notify.send_message publishes the message as it is on the command topic
        recorder.publish(notify["command_topic"], "The washing machine is done")
        await eventually(lambda: Announce("The washing machine is done") in h.control.events)


async def test_an_automation_asks_through_the_text_entity_and_the_answer_arrives_as_an_event(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path)
    ask, answer = entity(settings, "text", "ask"), entity(settings, "event", "answer")
    async with running_device(settings) as h:
        recorder.publish(ask["command_topic"], "Shall I close the garage?")
        await eventually(lambda: any(isinstance(e, StartConversation) for e in h.control.events))
        start = h.control.events[-1]
        assert isinstance(start, StartConversation) and start.ask_id
        assert "Shall I close the garage?" in start.instructions
        h.device.observer.observe(O.Answer(start.ask_id, "yes please"), 3.0)
        got = payload(await message_on(recorder, answer["state_topic"]))
        assert got["event_type"] in answer["event_types"] and got["event_type"] == "answer"
        assert (got["id"], got["text"]) == (start.ask_id, "yes please")
        h.device.observer.observe(O.Answer("other", None), 4.0)
        got = payload(await message_on(recorder, answer["state_topic"], lambda p: p["id"] == "other"))
        assert got["event_type"] == "no_answer"


async def test_every_event_entity_receives_its_event_type(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path)
    clock = FakeClock()
    async with running_device(settings, clock=clock, timers=True) as h:
        assert h.timers is not None
        obs = h.device.observer
        obs.observe(O.WakeHeard("hey_jarvis", 0.9), 1.0)
        obs.observe(O.SessionEnded(1, "conversation", "idle", 12.0, 1, 1, 2.0, _usage(), 0.01), 2.0)
        obs.observe(O.Problem("no reply from the service"), 3.0)
        h.timers.set(30, "tea")
        clock.advance(30)
        for key in ("wake", "conversation", "error", "timer"):
            config = entity(settings, "event", key)
            got = payload(await message_on(recorder, config["state_topic"]))
            assert got["event_type"] in config["event_types"], (key, got)
        assert payload(recorder.on(f"{ROOT}/event/wake")[0])["model"] == "hey_jarvis"
        assert payload(recorder.on(f"{ROOT}/event/timer_finished")[0])["name"] == "tea"


async def test_the_timers_sensor_reads_the_retained_timers(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path)
    sensor = entity(settings, "sensor", "timers")
    assert sensor["state_topic"] == sensor["json_attributes_topic"] == f"{ROOT}/timers"
    async with running_device(settings, clock=FakeClock(), timers=True) as h:
        assert h.timers is not None
        h.timers.set(600, "pasta")
        h.timers.set(60, "tea")
        seen = await message_on(recorder, sensor["state_topic"], lambda p: len(p) == 2)
        assert seen.retain
        assert [t["name"] for t in payload(seen)] == ["tea", "pasta"]  # soonest first: 'next' is [0]


async def test_the_device_lands_in_its_area_with_a_model_and_categories(tmp_path: Path) -> None:
    settings = settings_for(None, tmp_path, mqtt={"site_id": "living_room", "enabled": False},
                            home={"configuration_url": "http://speaker.local/"},
                            hardware={"board": "respeaker_4mic"})
    found = {topic.split("/")[3]: config for topic, config in discovery_messages(settings)}
    device = found["state"]["device"]
    assert device["suggested_area"] == "Living room"
    assert device["model"] != device["manufacturer"]
    assert device["configuration_url"] == "http://speaker.local/"
    assert device["hw_version"] == "ReSpeaker 4-Mic Array for Pi"
    assert found["cost_today"]["entity_category"] == "diagnostic"
    assert found["wake_word"]["entity_category"] == "config"
    assert "last_transcript" not in found
    on = {topic.split("/")[3]: c for topic, c in discovery_messages(
        settings_for(None, tmp_path, realtime={"transcription": {}}, home={"area": ""}))}
    assert on["last_transcript"]["entity_category"] == "diagnostic"
    assert "suggested_area" not in on["state"]["device"]


async def test_turning_transcription_off_withdraws_the_transcript_entity(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    topic = f"{PREFIX}/sensor/{NODE}/last_transcript/config"
    async with running_device(settings_for(broker, tmp_path, realtime={"transcription": {}})):
        await message_on(recorder, topic)
    recorder.clear()
    async with running_device(settings_for(broker, tmp_path)):
        await eventually(lambda: any(m.topic == topic and m.retain and not m.payload for m in recorder.messages))


async def test_the_last_reply_is_retained_and_survives_a_restart(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path)
    sensor = entity(settings, "sensor", "last_reply")
    assert sensor["state_topic"] == f"{ROOT}/last_reply"
    async with running_device(settings) as h:
        h.device.observer.observe(O.ReplyText("It is 21 degrees."), 1.0)
        await message_on(recorder, f"{ROOT}/last_reply")
    late = Recorder(broker.host, broker.port, client_id="home-assistant-after-restart")
    try:
        await late.wait_for(lambda m: m.topic == f"{ROOT}/last_reply" and m.retain
                            and json.loads(m.payload)["text"] == "It is 21 degrees.", 5)
    finally:
        late.close()
    # the privacy choice: off, the reply is an event only and the kept one is forgotten
    private = settings_for(broker, tmp_path, home={"retain_last_reply": False})
    assert entity(private, "sensor", "last_reply")["state_topic"] == f"{ROOT}/event/reply"
    async with running_device(private):
        await message_on(recorder, f"{ROOT}/last_reply", lambda p: p == "")


async def test_the_mute_switch_stays_on_while_a_muted_speaker_announces(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path)
    switch = entity(settings, "switch", "mute")
    async with running_device(settings) as h:
        await message_on(recorder, switch["state_topic"], lambda p: p == "OFF")
        obs = h.device.observer
        for state in (State.MUTED, State.ANNOUNCING, State.MUTED):
            obs.observe(O.StateChanged(state), 1.0)
        await message_on(recorder, f"{ROOT}/state", lambda p: p == "announcing")
        await message_on(recorder, switch["state_topic"], lambda p: p == "ON")
        for state in (State.ANNOUNCING, State.IDLE):
            obs.observe(O.StateChanged(state), 2.0)
        await eventually(lambda: [m.text for m in recorder.on(switch["state_topic"])] == ["OFF", "ON", "OFF"])


def _usage() -> Any:
    from speaker.realtime.events import Usage
    return Usage()
