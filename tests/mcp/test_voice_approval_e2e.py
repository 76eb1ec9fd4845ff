"""A remote MCP tool that needs approval, through the whole speaker: real wake word and VAD on file audio,
the Realtime EMULATOR (it scripts the service's ``mcp_approval_request``, the question and the transcript of
the user's answer, and validates the speaker's ``mcp_approval_response`` with the openai types) and a real
Mosquitto broker (the speaker's events). Only a spoken yes approves; no or silence deny."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from realtime_emulator import Emulator, McpApprovalSpec, Reply, Script, Turn
from speaker.app import assemble
from speaker.config import load_settings
from tests.ha.support import ROOT, message_on
from tests.ha.test_e2e import KEY, clip, input_wav, silence
from tests.helpers.broker import Broker
from tests.mqtt.fixtures import recorder
from tests.mqtt.recorder import Recorder

__all__ = ["recorder"]
pytestmark = pytest.mark.slow
QUESTION = "Shall I order the pizza?"


def script(answer: str) -> Script:
    return Script(turns=[
        Turn(heard="order a pizza", mcp=McpApprovalSpec("shop", "order", {"item": "pizza"}, request_id="mcpr_1"),
             then=Reply("Your pizza is ordered.")),
        Turn(reply=Reply(QUESTION)),                    # the question (a response.create with no tools)
        Turn(heard=answer, reply=Reply("Okay.")),       # ``heard``: the transcript of the user's answer
    ])


@contextlib.asynccontextmanager
async def speaker(tmp_path: Path, broker: Broker, emu: Emulator, audio: Path) -> AsyncIterator[None]:
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
mcp:
  remote:
    - label: shop
      url: https://shop.example.com/mcp
      require_approval: [order]
state_dir: {tmp_path / "state"}
""")
    stop = asyncio.Event()
    async with assemble(load_settings([config]), api_key=KEY, input_file=audio,
                        output_file=tmp_path / "out.wav") as s:
        assert s.mqtt is not None and await s.mqtt.wait_connected(5)
        task = asyncio.create_task(s.runner.run(s.source, stop=stop), name="test:runner")
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


@pytest.mark.parametrize(("answer", "spoken", "approve", "outcome"), [
    ("yes", True, True, "Your pizza is ordered."),
    ("no", True, False, "Okay, I did not do it."),
    ("", False, False, None),
])
async def test_the_service_runs_the_tool_only_after_a_spoken_yes(
        answer: str, spoken: bool, approve: bool, outcome: str | None, broker: Broker, recorder: Recorder,
        tmp_path: Path) -> None:
    answer_audio = [clip("speech_end", 1.0)] if spoken else []
    audio = input_wav(tmp_path / "talk.wav", clip("hey_jarvis"), clip("speech_end", 1.0), silence(4.5),
                      *answer_audio, silence(10))
    async with Emulator(script(answer), api_key=KEY) as emu, speaker(tmp_path, broker, emu, audio):
        question = await message_on(recorder, f"{ROOT}/event/reply", lambda p: p["text"] == QUESTION, within=20)
        assert question is not None
        assert [e for e in emu.events("conversation.item.create")
                if e["item"]["type"] == "mcp_approval_response"] == [], "answered before the user did"
        if outcome is not None:
            heard = await message_on(recorder, f"{ROOT}/event/reply", lambda p: p["text"] == outcome, within=20)
            assert heard is not None
        await message_on(recorder, f"{ROOT}/event/session_closed", within=20)
        creates = emu.events("response.create")
        assert creates[1]["response"]["tool_choice"] == "none" and '"shop"' in creates[1]["response"]["instructions"]
        answers = [e["item"] for e in emu.events("conversation.item.create")
                   if e["item"]["type"] == "mcp_approval_response"]
        mcp_calls = [e for e in emu.events("response.output_item.done", sent=True) if e["item"]["type"] == "mcp_call"]
    assert len(answers) == 1 and answers[0]["approval_request_id"] == "mcpr_1"
    assert answers[0]["approve"] is approve
    assert len(mcp_calls) == (1 if approve else 0)
    assert emu.violations == [] and emu.events("error", sent=True) == []
