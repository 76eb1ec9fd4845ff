"""A remote MCP tool that needs approval, through the whole speaker: real wake word and VAD on file audio,
the Realtime EMULATOR (it scripts the service's ``mcp_approval_request``, the question and the transcript of
the user's answer, and validates the speaker's ``mcp_approval_response`` with the openai types) and a real
Mosquitto broker (the speaker's events). Only a spoken yes approves; no or silence deny."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime_emulator import Emulator, McpApprovalSpec, Reply, Script, Turn
from tests.ha.support import ROOT, message_on
from tests.helpers.broker import Broker
from tests.helpers.whole_speaker import KEY, asked_and_answered, whole_speaker
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


SHOP = """\
mcp:
  remote:
    - label: shop
      url: https://shop.example.com/mcp
      require_approval: [order]
"""


@pytest.mark.parametrize(("answer", "spoken", "approve", "outcome"), [
    ("yes", True, True, "Your pizza is ordered."),
    ("no", True, False, "Okay, I did not do it."),
    ("", False, False, None),
])
async def test_the_service_runs_the_tool_only_after_a_spoken_yes(
        answer: str, spoken: bool, approve: bool, outcome: str | None, broker: Broker, recorder: Recorder,
        tmp_path: Path) -> None:
    audio = asked_and_answered(tmp_path / "talk.wav", answered=spoken)
    async with Emulator(script(answer), api_key=KEY) as emu, \
            whole_speaker(tmp_path, broker, emu, audio, language=None, sections=SHOP):
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
