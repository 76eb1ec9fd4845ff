"""The EMULATOR's scripted remote MCP approvals, on the raw wire: the ``mcp_approval_request`` it sends is a
valid GA item, and the client's ``mcp_approval_response`` is checked strictly (openai types, a request that
was made, answered once); then an approval plays the ``mcp_call`` and the turn's ``then``, a refusal the
spec's ``denied`` reply."""

from __future__ import annotations

from typing import Any

import pytest

from realtime_emulator import Emulator, McpApprovalSpec, Reply, Script, Turn
from tests.emulator.wire import LOCAL_TURNS, wire

SESSION: dict[str, Any] = {**LOCAL_TURNS, "output_modalities": ["text"], "tools": [
    {"type": "mcp", "server_label": "shop", "server_url": "https://shop.example.com/mcp",
     "require_approval": "always"}]}


def script() -> Script:
    return Script(turns=[Turn(mcp=McpApprovalSpec("shop", "order", {"item": "pizza"}, output='{"ordered": 1}',
                                                  denied=Reply("Not ordered.")),
                              then=Reply("Your pizza is ordered."))])


def answer(request_id: str, approve: bool, **extra: Any) -> dict[str, Any]:
    return {"type": "mcp_approval_response", "id": "mcpa_1", "approval_request_id": request_id,
            "approve": approve, **extra}


async def request(w: Any) -> str:
    await w.send("response.create")
    events = await w.until("response.done")
    [item] = [e["item"] for e in events if e["type"] == "conversation.item.done"]
    assert item["type"] == "mcp_approval_request" and item["server_label"] == "shop" and item["name"] == "order"
    assert events[-1]["response"]["output"][0]["id"] == item["id"]
    return str(item["id"])


@pytest.mark.parametrize(("approve", "said"), [(True, "Your pizza is ordered."), (False, "Not ordered.")])
async def test_an_answered_request_plays_its_outcome(approve: bool, said: str) -> None:
    async with Emulator(script()) as emu, wire(emu, session=SESSION) as w:
        request_id = await request(w)
        await w.send("conversation.item.create", item=answer(request_id, approve))
        assert (await w.until("conversation.item.done"))[-1]["item"]["approve"] is approve
        await w.send("response.create")
        done = (await w.until("response.done"))[-1]["response"]
        kinds = [item["type"] for item in done["output"]]
        assert kinds == (["mcp_call", "message"] if approve else ["message"])
        if approve:
            assert done["output"][0]["approval_request_id"] == request_id
            assert done["output"][0]["output"] == '{"ordered": 1}'
        assert done["output"][-1]["content"][0]["text"] == said
        assert emu.violations == []


async def test_bad_answers_are_refused() -> None:
    async with Emulator(script()) as emu, wire(emu, session=SESSION) as w:
        request_id = await request(w)
        bad = answer(request_id, True)
        del bad["id"]  # required by the SDK
        await w.send("conversation.item.create", item=bad)
        assert (await w.until("error"))[-1]["type"] == "error"
        assert len(emu.violations) == 1
        await w.send("conversation.item.create", item=answer("mcpr_nothing", True))
        assert "No MCP approval request" in (await w.until("error"))[-1]["error"]["message"]
        await w.send("conversation.item.create", item=answer(request_id, False))
        await w.until("conversation.item.done")
        await w.send("conversation.item.create", item={**answer(request_id, True), "id": "mcpa_2"})
        assert "already answered" in (await w.until("error"))[-1]["error"]["message"]
