"""A remote MCP tool that needs approval, through the whole speaker: real wake word and VAD on file audio,
the Realtime EMULATOR (it scripts the service's ``mcp_approval_request``, the question and the transcript of
the user's answer, and validates the speaker's ``mcp_approval_response`` with the openai types) and a real
Mosquitto broker (the speaker's events). Only a spoken yes approves; no or silence deny."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from realtime_emulator import Emulator, McpApprovalSpec, Reply, Script, Turn
from speaker.config import load_settings
from speaker.mcp.remote import mcp_tool
from tests.ha.support import ROOT, message_on
from tests.helpers.broker import Broker
from tests.helpers.whole_speaker import KEY, asked_and_answered, input_wav, silence, whole_speaker
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
GARDEN = """\
mcp:
  remote:
    - label: garden
      url: https://garden.example.com/mcp
      allowed_tools: [water, flood]
      deny: [flood]
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


async def test_the_session_sent_for_a_server_with_a_deny_list_is_the_one_the_mcp_module_builds(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    """The denied tool needs approval on the wire (else the service would run it without asking the
    speaker, and the deny list would be void), and the session carries exactly speaker.mcp.remote's tool."""
    quiet = input_wav(tmp_path / "quiet.wav", silence(8))
    async with Emulator(Script(turns=[Turn(reply=Reply("The garden is dry."))]), api_key=KEY) as emu, \
            whole_speaker(tmp_path, broker, emu, quiet, language=None, sections=GARDEN):
        recorder.publish(f"{ROOT}/cmd/start_conversation", json.dumps({"text": "Is the garden dry?"}))
        update = await emu.wait_for("session.update", timeout=10)
    sent = [tool for tool in update["session"]["tools"] if tool["type"] == "mcp"]
    server = load_settings([tmp_path / "speaker.yaml"]).settings.mcp.remote[0]
    assert sent == [mcp_tool(server)]
    assert sent[0]["require_approval"] == {"always": {"tool_names": ["flood"]}, "never": {"tool_names": ["water"]}}
    assert emu.violations == []
