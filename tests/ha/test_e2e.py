"""The whole speaker (``assemble``): real wake word and VAD on file audio paced in real time, the Realtime
EMULATOR, a real Mosquitto broker, and the device topics as Home Assistant or an LED script sees them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from realtime_emulator import Emulator, FunctionCallSpec, Reply, Script, Turn
from tests.ha.support import ROOT, message_on, payload
from tests.helpers.broker import Broker
from tests.helpers.whole_speaker import KEY, clip, input_wav, silence, whole_speaker
from tests.mqtt.fixtures import eventually
from tests.mqtt.recorder import Recorder

pytestmark = pytest.mark.slow


def states(recorder: Recorder) -> list[str]:
    """The distinct successive values of the retained state topic."""
    out: list[str] = []
    for m in recorder.on(f"{ROOT}/state"):
        if not out or out[-1] != m.text:
            out.append(m.text)
    return out


def assert_nothing_secret_or_audio(recorder: Recorder) -> None:
    for m in recorder.messages:
        assert KEY.encode() not in m.payload, f"{m.topic} carries the API key"
        assert len(m.payload) < 4096, f"{m.topic} carries {len(m.payload)} bytes (audio?)"


async def test_a_conversation_sets_a_timer_that_survives_a_restart_rings_and_stops(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    script = Script(turns=[Turn(heard="set a tea timer for six seconds",
                                call=FunctionCallSpec("set_timer", {"seconds": 6, "name": "tea"}),
                                then=Reply("Your tea timer is set."))])
    talk = input_wav(tmp_path / "talk.wav", clip("hey_jarvis"), clip("speech_end", 1.0), silence(20))
    async with Emulator(script, api_key=KEY) as emu:
        async with whole_speaker(tmp_path, broker, emu, talk):
            tool = payload(await message_on(recorder, f"{ROOT}/event/tool_call", within=15))
            assert tool["name"] == "set_timer" and tool["ok"] is True and tool["seconds"] < 1
            await message_on(recorder, f"{ROOT}/event/session_closed", within=10)
            timers = payload(await message_on(recorder, f"{ROOT}/timers", lambda p: len(p) == 1))
            assert timers[0]["name"] == "tea" and 0 < timers[0]["remaining_s"] <= 6
        assert states(recorder) == ["idle", "listening", "thinking", "speaking", "listening", "idle"]
        wake = payload(recorder.on(f"{ROOT}/event/wake")[0])
        assert wake["model"] == "hey_jarvis" and wake["score"] >= 0.5
        assert payload(recorder.on(f"{ROOT}/event/transcript")[0])["text"] == "set a tea timer for six seconds"
        assert payload(recorder.on(f"{ROOT}/event/reply")[-1])["text"] == "Your tea timer is set."
        responses = [payload(m) for m in recorder.on(f"{ROOT}/event/response")]
        assert len(responses) == 2 and all(r["cost_usd"] > 0 for r in responses)
        latency = responses[-1]["latency_s"]
        assert latency is not None and latency > 0  # published; how long it was is a figure, not a verdict
        print(f"response latency published on MQTT: {latency:.2f} s")
        cost = payload(recorder.on(f"{ROOT}/cost_today")[-1])
        assert cost["usd"] == pytest.approx(responses[-1]["cost_today_usd"], abs=1e-6) and cost["usd"] > 0
        assert recorder.on(f"{ROOT}/event/timer_finished") == [], "the timer rang before the restart"
        assert emu.violations == []

        # the daemon restarts: the timer comes back from state_dir and rings at its time
        recorder.clear()
        quiet = input_wav(tmp_path / "quiet.wav", silence(20))
        async with whole_speaker(tmp_path, broker, emu, quiet) as run:
            restored = payload(await message_on(recorder, f"{ROOT}/timers", lambda p: len(p) == 1))
            assert restored[0]["name"] == "tea" and restored[0]["ringing"] is False
            finished = payload(await message_on(recorder, f"{ROOT}/event/timer_finished", within=8))
            assert finished["name"] == "tea"
            before = run.speaker.sink.written_ms
            await eventually(lambda: run.speaker.sink.written_ms > before + 500, within=3)  # it rings
            recorder.publish(f"{ROOT}/cmd/stop", "")
            dismissed = payload(await message_on(recorder, f"{ROOT}/event/timer_dismissed"))
            assert dismissed["reason"] == "stop"
            await message_on(recorder, f"{ROOT}/timers", lambda p: p == [])
            rung = run.speaker.sink.written_ms
            await asyncio.sleep(2.0)  # longer than a ring and its pause
            assert run.speaker.sink.written_ms == rung, "it kept ringing after stop"
        assert emu.connections == 1, "ringing or stopping opened a Realtime session"
    assert_nothing_secret_or_audio(recorder)


async def test_mute_stops_the_wake_word(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    audio = input_wav(tmp_path / "wake.wav", silence(2.0), clip("hey_jarvis"))
    async with Emulator(Script(), api_key=KEY) as emu, whole_speaker(tmp_path, broker, emu, audio) as run:
        await message_on(recorder, f"{ROOT}/state", lambda p: p == "idle")
        recorder.publish(f"{ROOT}/cmd/mute", "true")
        seen = await message_on(recorder, f"{ROOT}/state", lambda p: p == "muted")
        assert seen.retain
        assert run.speaker.runner.frontend.wake_enabled is False  # gated before detection
        await asyncio.wait_for(run.task, 10)  # the file ends; a muted speaker stays idle
        assert recorder.on(f"{ROOT}/event/wake") == []
        assert emu.connections == 0
    assert json.loads((tmp_path / "state" / "device.json").read_text())["muted"] is True


async def test_say_speaks_the_text_after_a_chime(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    script = Script(turns=[Turn(reply=Reply("Dinner is ready."))])
    audio = input_wav(tmp_path / "quiet.wav", silence(12))
    async with Emulator(script, api_key=KEY) as emu, whole_speaker(tmp_path, broker, emu, audio) as run:
        recorder.publish(f"{ROOT}/cmd/say", json.dumps({"text": "Dinner is ready", "preannounce": True}))
        create = await emu.wait_for("response.create", timeout=5)
        assert "Dinner is ready" in create["response"]["instructions"]
        await message_on(recorder, f"{ROOT}/event/session_closed", within=10)
        # an announcement shows what it is, not a conversation's listening/thinking
        assert [s for s in states(recorder) if s != "idle"] == ["announcing"]
        assert states(recorder)[-1] == "idle"
        assert run.speaker.sink.written_ms > 1000  # the chime and the spoken text reached the speaker
        announce = payload(recorder.on(f"{ROOT}/event/announce")[0])
        assert announce["text"] == "Dinner is ready"
        assert emu.violations == []


async def test_ask_publishes_the_spoken_answer(broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    script = Script(turns=[Turn(reply=Reply("Shall I close the garage?")),
                           Turn(heard="yes please", reply=Reply("Okay."))])
    audio = input_wav(tmp_path / "answer.wav", silence(4.5), clip("speech_end", 1.0), silence(8))
    async with Emulator(script, api_key=KEY) as emu, \
            whole_speaker(tmp_path, broker, emu, audio, follow_up_s=5):
        recorder.publish(f"{ROOT}/cmd/ask", json.dumps({"text": "Close the garage?", "id": "garage-1"}))
        answer = await message_on(recorder, f"{ROOT}/response/garage-1", within=15)
        assert payload(answer) == {"id": "garage-1", "text": "yes please"}
        first = emu.events("response.create")[0]
        assert "Close the garage?" in first["response"]["instructions"]
        assert emu.violations == []
