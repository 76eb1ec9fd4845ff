"""A ``confirm: true`` tool through the whole speaker: real wake word and VAD on file audio, the Realtime
EMULATOR (it scripts the call, the question and the transcript of the user's answer) and a real Mosquitto
broker. The lock's command topic sees nothing before a spoken yes, exactly one command after it, and
nothing after a no, silence or an unclear answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from realtime_emulator import Emulator, FunctionCallSpec, Reply, Script, Turn
from tests.ha.support import ROOT, message_on, payload
from tests.helpers.broker import Broker
from tests.helpers.whole_speaker import KEY, asked_and_answered, whole_speaker
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


def command_outputs(emu: Emulator) -> list[dict[str, object]]:
    return [json.loads(e["item"]["output"]) for e in emu.events("conversation.item.create")
            if e["item"].get("type") == "function_call_output"]


@pytest.mark.parametrize(("answer", "spoken"), [
    ("yes", True), ("no", True), ("", False), ("what time is it", True)])
async def test_the_lock_moves_only_after_a_spoken_yes(
        answer: str, spoken: bool, broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    # wake word, the request, the question plays, then the answer (or nothing: silence)
    audio = asked_and_answered(tmp_path / "talk.wav", answered=spoken)
    (tmp_path / "lock.yaml").write_text(PACK)
    async with Emulator(script(answer), api_key=KEY) as emu, \
            whole_speaker(tmp_path, broker, emu, audio, language=None, packs=[tmp_path / "lock.yaml"]):
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
