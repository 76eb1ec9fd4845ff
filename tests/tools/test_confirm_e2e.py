"""A ``confirm: true`` tool through the whole speaker: real wake word and VAD on file audio, the Realtime
EMULATOR (it scripts the call, the question and the transcript of the user's answer) and a real Mosquitto
broker. The lock's command topic sees nothing before a spoken yes, exactly one command after it, and
nothing after a no, silence or an unclear answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from realtime_emulator import Emulator, FunctionCallSpec, Reply, Script, Turn
from speaker.app import assemble
from speaker.config import load_settings
from tests.ha.support import ROOT, message_on, payload
from tests.ha.test_e2e import KEY, clip, input_wav, silence
from tests.helpers.broker import Broker
from tests.mqtt.fixtures import recorder
from tests.mqtt.recorder import Recorder

__all__ = ["recorder"]
pytestmark = pytest.mark.slow
LOCK_TOPIC = "home/hall/front_door/set"
PACK = f"""\
inventory:
  hall:
    - id: front_door
      name: Front door lock
      kind: lock
      mqtt: {{command_topic: {LOCK_TOPIC}}}
tools:
  - name: lock_set
    description: Lock or unlock a door.
    parameters:
      device: {{type: device, kinds: [lock], required: true}}
      command: {{type: string, enum: ["LOCK", "UNLOCK"], required: true}}
    confirm: true
    question: Unlock the front door?
    action: {{topic: "{{device.command_topic}}", payload: "{{command}}"}}
"""


def script(answer: str) -> Script:
    return Script(turns=[
        Turn(heard="unlock the front door",
             call=FunctionCallSpec("lock_set", {"device": "front_door", "command": "UNLOCK"}),
             then=Reply("Done.")),
        Turn(reply=Reply("Unlock the front door?")),   # the question (a response.create with no tools)
        Turn(heard=answer, reply=Reply("Okay.")),       # ``heard``: the transcript of the user's answer
    ])


@contextlib.asynccontextmanager
async def speaker_with_lock(tmp_path: Path, broker: Broker, emu: Emulator, audio: Path) -> AsyncIterator[None]:
    (tmp_path / "lock.yaml").write_text(PACK)
    config = tmp_path / "speaker.yaml"
    config.write_text(f"""\
realtime:
  url: {emu.url}
conversation:
  follow_up_s: 1
  idle_close_s: 1
mqtt:
  host: {broker.host}
  port: {broker.port}
  site_id: kitchen
tools:
  packs: [{tmp_path / "lock.yaml"}]
state_dir: {tmp_path / "state"}
""")
    stop = asyncio.Event()
    async with assemble(load_settings([config]), api_key=KEY, input_file=audio,
                        output_file=tmp_path / "out.wav") as speaker:
        assert speaker.mqtt is not None and await speaker.mqtt.wait_connected(5)
        task = asyncio.create_task(speaker.runner.run(speaker.source, stop=stop), name="test:runner")
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


def command_outputs(emu: Emulator) -> list[dict[str, object]]:
    return [json.loads(e["item"]["output"]) for e in emu.events("conversation.item.create")
            if e["item"].get("type") == "function_call_output"]


@pytest.mark.parametrize(("answer", "spoken"), [
    ("yes", True), ("no", True), ("", False), ("what time is it", True)])
async def test_the_lock_moves_only_after_a_spoken_yes(
        answer: str, spoken: bool, broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    # wake word, the request, the question plays, then the answer (or nothing: silence)
    answer_audio = [clip("speech_end", 1.0)] if spoken else []
    audio = input_wav(tmp_path / "talk.wav", clip("hey_jarvis"), clip("speech_end", 1.0), silence(4.5),
                      *answer_audio, silence(10))
    async with Emulator(script(answer), api_key=KEY) as emu, speaker_with_lock(tmp_path, broker, emu, audio):
        question = await message_on(recorder, f"{ROOT}/event/reply",
                                    lambda p: p["text"] == "Unlock the front door?", within=20)
        assert question is not None
        assert recorder.on(LOCK_TOPIC) == [], "the lock moved before the user answered"
        done = payload(await message_on(recorder, f"{ROOT}/event/tool_call", within=20))
        assert done["name"] == "lock_set"
        await message_on(recorder, f"{ROOT}/event/session_closed", within=20)
        creates = emu.events("response.create")
        assert creates[1]["response"]["tool_choice"] == "none"
        assert "Unlock the front door?" in creates[1]["response"]["instructions"]
    confirmed = answer == "yes"
    assert [m.text for m in recorder.on(LOCK_TOPIC)] == (["UNLOCK"] if confirmed else [])
    assert done["ok"] is confirmed
    outputs = command_outputs(emu)
    assert len(outputs) == 1 and outputs[0]["ok"] is confirmed
    assert emu.violations == []
