"""The device over MQTT with a real broker: state and events out, commands in, remembered settings."""

from __future__ import annotations

import json
from pathlib import Path

from speaker.core import outputs as O
from speaker.core.config import CoreConfig
from speaker.core.conversation import Conversation
from speaker.core.events import (
    Announce,
    CoreEvent,
    ServerEvent,
    SessionReady,
    SetMuted,
    StartConversation,
    Stop,
    TimersQuiet,
    TimersRinging,
    Wake,
)
from speaker.core.state import State
from speaker.listen.events import SpeechEnded, SpeechStarted
from speaker.realtime import events as rt
from speaker.realtime.cost import PriceTable
from tests.ha.support import ROOT, FakeSink, message_on, payload, running_device, settings_for
from tests.helpers.broker import Broker
from tests.mqtt.fixtures import eventually
from tests.mqtt.recorder import Recorder
from tests.timers.support import FakeClock


async def test_state_and_events_follow_the_conversation(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    async with running_device(settings_for(broker, tmp_path)) as h:
        seen = await message_on(recorder, f"{ROOT}/state", lambda p: p == "idle")
        assert seen.retain
        obs = h.device.observer
        obs.observe(O.WakeHeard("hey_jarvis", 0.91), 1.0)
        for state in (State.LISTENING, State.THINKING, State.SPEAKING, State.IDLE):
            obs.observe(O.StateChanged(state), 1.0)
        obs.observe(O.UserTranscript("turn on the light"), 1.0)
        obs.observe(O.Problem("no reply from the service"), 1.0)
        await message_on(recorder, f"{ROOT}/event/error")
        states = [m.text for m in recorder.on(f"{ROOT}/state")]
        assert states == ["idle", "listening", "thinking", "speaking", "idle"]
        assert all(m.retain for m in recorder.on(f"{ROOT}/state"))
        wake = payload(recorder.on(f"{ROOT}/event/wake")[0])
        assert wake["model"] == "hey_jarvis" and wake["score"] == 0.91 and wake["ts"] > 0
        assert payload(recorder.on(f"{ROOT}/event/transcript")[0])["text"] == "turn on the light"
        error = payload(recorder.on(f"{ROOT}/event/error")[0])
        assert error["source"] == "conversation"
        assert not any(m.retain for m in recorder.messages if m.topic.startswith(f"{ROOT}/event/"))


async def test_a_reply_reports_latency_and_cost_and_cost_today_survives_a_restart(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path)
    usage = rt.Usage(text_in=1000, audio_in=2000, audio_out=500)
    async with running_device(settings) as h:
        # the real core counts and prices the reply; the device publishes what it reports
        core = Conversation(CoreConfig(pricing=PriceTable.for_settings(settings.realtime)))
        obs = h.device.observer

        def feed(event: CoreEvent, now: float) -> None:
            for step in core.handle(event, now):
                obs.observe(step, now)

        feed(Wake("hey_jarvis", 0.9, 1.0), 9.0)
        feed(SessionReady(1), 9.1)
        feed(SpeechStarted(1.1), 9.2)
        feed(SpeechEnded(1.9), 10.0)  # the turn is committed: the latency clock starts
        feed(ServerEvent(1, rt.ResponseCreated("resp_1")), 10.01)
        feed(ServerEvent(1, rt.AudioDelta("resp_1", "item_1", 0, b"\0\0")), 10.75)
        feed(ServerEvent(1, rt.ResponseDone("resp_1", "completed", usage=usage)), 11.5)
        feed(Stop("stop command"), 19.0)
        response = payload(await message_on(recorder, f"{ROOT}/event/response"))
        # gpt-realtime-2.1: $4 per 1M text in, $32 per 1M audio in, $64 per 1M audio out
        expected = (1000 * 4 + 2000 * 32 + 500 * 64) / 1e6
        assert response["latency_s"] == 0.75
        assert abs(response["cost_usd"] - expected) < 1e-9
        assert response["tokens"] == {"input": 3000, "output": 500, "cached": 0}
        cost = payload(await message_on(recorder, f"{ROOT}/cost_today", lambda p: p["usd"] > 0))
        assert abs(cost["usd"] - expected) < 1e-9
        closed = payload(await message_on(recorder, f"{ROOT}/event/session_closed"))
        assert closed["seconds"] == 10.0 and closed["responses"] == 1 and closed["turns"] == 1
    recorder.clear()
    async with running_device(settings, clock=FakeClock(h.clock())):
        again = payload(await message_on(recorder, f"{ROOT}/cost_today"))
        assert abs(again["usd"] - expected) < 1e-9, "a restart lost today's cost"


async def test_cost_today_resets_at_local_midnight(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    clock = FakeClock()
    settings = settings_for(broker, tmp_path)
    async with running_device(settings, clock=clock) as h:
        h.device.controls.cost.add(0.25)
        h.device.observer.publish_cost()
        await message_on(recorder, f"{ROOT}/cost_today", lambda p: p["usd"] == 0.25)
        clock.advance(24 * 3600)
        assert h.device.controls.cost.roll()
        h.device.observer.publish_cost()
        await message_on(recorder, f"{ROOT}/cost_today", lambda p: p["usd"] == 0)


async def test_mute_and_unmute_commands_reach_the_core_and_are_remembered(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path)
    async with running_device(settings) as h:
        recorder.publish(f"{ROOT}/cmd/mute", "true")
        await eventually(lambda: SetMuted(True) in h.control.events)
        h.device.observer.observe(O.StateChanged(State.MUTED), 1.0)  # what the core answers
        recorder.publish(f"{ROOT}/cmd/unmute", "")
        await eventually(lambda: SetMuted(False) in h.control.events)
        h.device.observer.observe(O.StateChanged(State.IDLE), 2.0)
        recorder.publish(f"{ROOT}/cmd/mute", "")
        await eventually(lambda: h.control.events.count(SetMuted(True)) == 2)
        h.device.observer.observe(O.StateChanged(State.MUTED), 3.0)
    assert json.loads((tmp_path / "device.json").read_text())["muted"] is True
    async with running_device(settings) as again:
        assert again.control.events == [SetMuted(True)], "a restart forgot the mute"


async def test_volume_is_applied_published_and_remembered(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    settings = settings_for(broker, tmp_path)
    async with running_device(settings) as h:
        await message_on(recorder, f"{ROOT}/volume", lambda p: p == 80)
        recorder.publish(f"{ROOT}/cmd/volume", "35")
        seen = await message_on(recorder, f"{ROOT}/volume", lambda p: p == 35)
        assert seen.retain and h.sink.volume == 35
    sink = FakeSink(volume=80)
    async with running_device(settings, sink=sink):
        assert sink.volume == 35


async def test_stop_silences_a_ringing_timer_and_ends_the_conversation(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_device(settings_for(broker, tmp_path), clock=clock, timers=True) as h:
        assert h.timers is not None
        h.timers.set(60, "tea")
        timers = payload(await message_on(recorder, f"{ROOT}/timers", lambda p: len(p) == 1))
        assert timers[0]["name"] == "tea" and timers[0]["remaining_s"] == 60 and timers[0]["ringing"] is False
        clock.advance(60)
        await message_on(recorder, f"{ROOT}/event/timer_finished")
        await eventually(lambda: TimersRinging(("tea",)) in h.control.events)  # the core rings it
        recorder.publish(f"{ROOT}/cmd/stop", "")
        await eventually(lambda: Stop("stop command") in h.control.events)
        h.timers.dismiss("stop")  # what the core asks for when a stop meets a ringing timer
        dismissed = payload(await message_on(recorder, f"{ROOT}/event/timer_dismissed"))
        assert dismissed["reason"] == "stop" and dismissed["names"] == ["tea"]
        assert h.control.events[-1] == TimersQuiet()
        await message_on(recorder, f"{ROOT}/timers", lambda p: p == [])
        assert [m.topic.rsplit("/", 1)[1] for m in recorder.messages if "/event/timer" in m.topic] == \
            ["timer_set", "timer_finished", "timer_dismissed"]


async def test_say_with_and_without_the_chime(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    async with running_device(settings_for(broker, tmp_path)) as h:
        recorder.publish(f"{ROOT}/cmd/say", json.dumps({"text": "Dinner is ready", "preannounce": True}))
        await eventually(lambda: Announce("Dinner is ready", preannounce=True) in h.control.events)
        recorder.publish(f"{ROOT}/cmd/say", json.dumps({"text": "Quietly", "preannounce": False}))
        await eventually(lambda: Announce("Quietly", preannounce=False) in h.control.events)
        h.device.observer.observe(O.Announcing("Quietly"), 2.0)
        assert payload(await message_on(recorder, f"{ROOT}/event/announce"))["text"] == "Quietly"


async def test_ask_publishes_the_answer_or_that_there_was_none(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    async with running_device(settings_for(broker, tmp_path)) as h:
        recorder.publish(f"{ROOT}/cmd/ask", json.dumps({"text": "Close the garage?", "id": "g1"}))
        await eventually(lambda: any(isinstance(e, StartConversation) for e in h.control.events))
        start = h.control.events[-1]
        assert isinstance(start, StartConversation) and start.ask_id == "g1"
        assert "Close the garage?" in start.instructions
        obs = h.device.observer
        obs.observe(O.SessionOpened(1, "start", ask_id="g1"), 1.0)
        obs.observe(O.Answer("g1", "yes please"), 2.0)
        answer = await message_on(recorder, f"{ROOT}/response/g1")
        assert payload(answer) == {"id": "g1", "text": "yes please"}
        obs.observe(O.SessionOpened(2, "start", ask_id="g2"), 4.0)
        obs.observe(O.Answer("g2", None), 10.0)  # the core: the conversation ended without one
        assert payload(await message_on(recorder, f"{ROOT}/response/g2")) == \
            {"id": "g2", "text": None, "error": "no answer"}
        assert len(recorder.on(f"{ROOT}/response/g1")) == 1


async def test_malformed_commands_produce_error_events_and_nothing_else(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    async with running_device(settings_for(broker, tmp_path)) as h:
        bad = [("say", '{"text": "unterminated'), ("say", '{"preannounce": true}'), ("say", "x" * 2001),
               ("volume", "150"), ("volume", "loud"), ("ask", '{"id": "nope"}'), ("mute", "perhaps"),
               ("selfdestruct", "now")]
        for name, text in bad:
            recorder.publish(f"{ROOT}/cmd/{name}", text)
        await eventually(lambda: len(recorder.on(f"{ROOT}/event/error")) == len(bad))
        messages = [payload(m)["message"] for m in recorder.on(f"{ROOT}/event/error")]
        assert messages[0].startswith("say: invalid JSON")
        assert "missing text" in messages[1] and "at most 2000" in messages[2]
        assert "out of range" in messages[3] and "not a number" in messages[4]
        assert "unknown command 'selfdestruct'" in messages[7]
        assert all(payload(m)["source"] == "command" for m in recorder.on(f"{ROOT}/event/error"))
        recorder.publish(f"{ROOT}/cmd/say", "still alive")
        await eventually(lambda: Announce("still alive") in h.control.events)
        assert h.control.events == [Announce("still alive")]
        assert h.sink.volume == 80


async def test_a_retained_command_is_ignored(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    recorder.publish(f"{ROOT}/cmd/say", "this would repeat at every restart", retain=True)
    async with running_device(settings_for(broker, tmp_path)) as h:
        error = payload(await message_on(recorder, f"{ROOT}/event/error"))
        assert "retained" in error["message"]
        assert h.control.events == []
    recorder.publish(f"{ROOT}/cmd/say", "", retain=True)


async def test_tool_outcomes_are_published_with_the_error_for_the_model(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    async with running_device(settings_for(broker, tmp_path)) as h:
        output = json.dumps({"error": "The light did not answer."})
        h.device.observer.observe(O.ToolDone("call_1", "z2m_light_set", False, 0.25, output), 1.0)
        event = payload(await message_on(recorder, f"{ROOT}/event/tool_call"))
        assert event["name"] == "z2m_light_set" and event["ok"] is False and event["seconds"] == 0.25
        assert event["error"] == "The light did not answer."


async def test_retained_state_comes_back_after_a_broker_restart(
        broker: Broker, tmp_path: Path) -> None:
    async with running_device(settings_for(broker, tmp_path)) as h:
        h.device.observer.observe(O.StateChanged(State.MUTED), 1.0)
        first = Recorder(broker.host, broker.port)
        try:
            await message_on(first, f"{ROOT}/state", lambda p: p == "muted")
        finally:
            first.close()
        broker.start()  # restarted without persistence: every retained message is gone
        second = Recorder(broker.host, broker.port, client_id="recorder-2")
        try:
            seen = await message_on(second, f"{ROOT}/state", lambda p: p == "muted", within=8)
            assert seen.retain
            await message_on(second, "homeassistant/switch/speaker_kitchen/mute/config", within=3)
        finally:
            second.close()


async def test_without_mqtt_volume_and_timers_still_work(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_device(settings_for(None, tmp_path), clock=clock, timers=True) as h:
        assert h.timers is not None
        h.device.set_volume(20)
        h.timers.set(5, "tea")
        clock.advance(5)
        await eventually(lambda: TimersRinging(("tea",)) in h.control.events)
    assert json.loads((tmp_path / "device.json").read_text())["volume"] == 20
