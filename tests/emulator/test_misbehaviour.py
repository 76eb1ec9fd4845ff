"""The hostile-network faults (issue 11): each sends, on a real loopback WebSocket, what it claims.

The frames are read raw (text), because some are not JSON at all."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import signal
import sys
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from realtime_emulator import DEFAULT_KEY, Emulator, Fault, FunctionCallSpec, Reply, Script, Turn
from realtime_emulator.garbage import FAULT_ID, HUGE, VARIANTS
from realtime_emulator.script import SESSION_EXPIRED_MESSAGE, parse_fault
from tests.emulator.wire import LOCAL_TURNS, MODEL, wire
from tests.helpers.ports import free_port

LIMIT = 10.0
REPLY = "The timer is set for five minutes."
TOOLS = {**LOCAL_TURNS, "tools": [{"type": "function", "name": "get_time", "description": "The time.",
                                   "parameters": {"type": "object", "properties": {}}}]}


NOT_JSON = object()


def parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return NOT_JSON


async def frames_until_done(ws: ClientConnection, response_id: list[str]) -> list[str]:
    """Raw frames up to the ``response.done`` of the real response (its id is learned from
    ``response.created``)."""
    out: list[str] = []
    while True:
        text = await ws.recv()
        assert isinstance(text, str)
        out.append(text)
        event = parsed(text)
        if not isinstance(event, dict) or str(event.get("event_id", "")).startswith(FAULT_ID):
            continue
        if event["type"] == "response.created":
            response_id.append(event["response"]["id"])
        if event["type"] == "response.done" and response_id and event["response"]["id"] == response_id[0]:
            return out


async def test_garbage_mid_reply_sends_every_hostile_frame_and_the_reply_still_completes() -> None:
    script = Script(turns=[Turn(reply=Reply(REPLY), fault=Fault.garbage(after_deltas=3))])
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu, wire(emu, session=TOOLS) as w:
        await w.send("response.create")
        rid: list[str] = []
        frames = await frames_until_done(w.ws, rid)
    events = [parsed(f) for f in frames]
    injected = [i for i, (f, e) in enumerate(zip(frames, events, strict=True))
                if not isinstance(e, dict) or str(e.get("event_id", "")).startswith(FAULT_ID)]
    real = [e for i, e in enumerate(events) if i not in injected]
    fake = [events[i] for i in injected]
    by_kind = {k: [e for e in fake if isinstance(e, dict) and e.get("event_id") == FAULT_ID + k] for k in VARIANTS}

    # out of order: a response.done for the real response before its response.created
    created_at = next(i for i, e in enumerate(events) if isinstance(e, dict) and e.get("type") == "response.created")
    assert [e["type"] for e in by_kind["done_before_created"]] == ["response.done"]
    assert by_kind["done_before_created"][0]["response"]["id"] == rid[0]
    assert injected[0] < created_at

    # the rest lands after exactly three real audio deltas
    later = [i for i in injected if i > created_at]
    deltas_before = [e for e in events[:later[0]] if isinstance(e, dict) and e.get("type") ==
                     "response.output_audio.delta" and e not in fake]
    assert len(deltas_before) == 3
    (odd,) = by_kind["odd_audio"]
    assert len(base64.b64decode(odd["delta"])) % 2 == 1 and odd["response_id"] == rid[0]
    (bad,) = by_kind["bad_base64"]
    with pytest.raises(binascii.Error):
        base64.b64decode(bad["delta"], validate=True)
    assert by_kind["infinite_number"][0]["audio_start_ms"] == math.inf
    assert '"audio_start_ms": 1e309' in frames[events.index(by_kind["infinite_number"][0])]
    assert by_kind["infinite_usage"][0]["response"]["usage"]["total_tokens"] == math.inf
    stopped, limits = by_kind["nan_number"]
    assert math.isnan(stopped["audio_end_ms"]) and math.isnan(limits["rate_limits"][0]["remaining"])
    assert len(by_kind["huge_string"][0]["delta"]) == HUGE
    assert [sorted(e) for e in by_kind["missing_fields"]] == [["event_id", "type"], ["event_id", "type"],
                                                              ["event_id"]]
    assert by_kind["unknown_type"][0]["type"] == "response.emulator_fault.teleported"
    assert sum(1 for i in injected if events[i] is NOT_JSON) == 1  # not_json: one frame no JSON parser takes
    assert [events[i] for i in injected if not isinstance(events[i], dict) and events[i] is not NOT_JSON] \
        == [[1, 2, 3], "response.done", None]  # not_object
    assert by_kind["unknown_response_done"][0]["response"]["id"] not in rid
    assert by_kind["unknown_response_done"][0]["response"]["usage"]["total_tokens"] > 0
    assert by_kind["unknown_item_delta"][0]["response_id"] not in rid
    assert len(base64.b64decode(by_kind["unknown_item_delta"][0]["delta"], validate=True)) == 4800
    (call,) = by_kind["unknown_call_done"]
    announced = [e["item"].get("call_id") for e in real if e["type"] == "response.output_item.added"]
    assert call["name"] == "get_time" and call["call_id"] not in announced

    # the real reply goes on: all of its audio, and a completed response.done
    assert real[-1]["type"] == "response.done" and real[-1]["response"]["status"] == "completed"
    assert real[-1]["response"]["output"][0]["content"][0]["transcript"] == REPLY
    assert len(emu.injected) == len(injected)
    assert emu.violations == []  # everything the emulator meant to send is still valid


async def test_garbage_variants_can_be_picked_and_land_before_the_first_delta() -> None:
    fault = Fault.garbage("odd_audio", "not_object", after_deltas=0)
    async with asyncio.timeout(LIMIT), Emulator(Script(turns=[Turn(reply=Reply(REPLY), fault=fault)]),
                                                speed=50) as emu, wire(emu) as w:
        await w.send("response.create")
        frames = await frames_until_done(w.ws, [])
    types = [e.get("type") if isinstance(e, dict) else repr(e) for e in map(parsed, frames)]
    first_delta = types.index("response.output_audio.delta")
    assert parsed(frames[first_delta])["event_id"] == FAULT_ID + "odd_audio"
    assert types[first_delta + 1:first_delta + 4] == ["[1, 2, 3]", "'response.done'", "None"]
    assert types[first_delta + 4] == "response.output_audio.delta"  # then the real audio
    assert len(emu.injected) == 4


async def test_the_session_expires_when_the_follow_up_comes_and_the_turn_is_not_replayed() -> None:
    script = Script(turns=[Turn(reply=Reply(REPLY), fault=Fault.expire_in_follow_up()),
                           Turn(reply=Reply("It is ten past three."))])
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu:
        async with wire(emu) as w:
            await w.send("response.create")
            done = (await w.until("response.done"))[-1]["response"]
            assert done["status"] == "completed"
            assert done["output"][0]["content"][0]["transcript"] == REPLY  # the reply played to its end
            await w.send("input_audio_buffer.clear")  # not a follow-up: the session is still there
            await w.until("input_audio_buffer.cleared")
            before = len(w.seen)
            await w.append(bytes(4800))  # the user speaks again
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await w.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 1000
            assert w.seen[-1]["type"] == "error"
            assert w.seen[-1]["error"]["code"] == "session_expired"
            assert w.seen[-1]["error"]["message"] == SESSION_EXPIRED_MESSAGE
            assert [e["type"] for e in w.seen[before:]] == ["error"]  # nothing else: the follow-up is not taken
        async with wire(emu) as w:  # a fresh session gets the next turn, not the expired one again
            await w.send("response.create")
            again = (await w.until("response.done"))[-1]["response"]
            assert again["output"][0]["content"][0]["transcript"] == "It is ten past three."
        assert emu.closed_codes[0] == 1000
    assert emu.violations == []


async def test_on_a_function_call_turn_the_expiry_waits_for_the_reply_after_the_call() -> None:
    turn = Turn(call=FunctionCallSpec("get_time", {}, call_id="call_1"), then=Reply("It is ten past three."),
                fault=Fault.expire_in_follow_up())
    async with asyncio.timeout(LIMIT), Emulator(Script(turns=[turn]), speed=50) as emu, \
            wire(emu, session=TOOLS) as w:
        await w.send("response.create")
        await w.until("response.done")
        await w.send("conversation.item.create", item={"type": "function_call_output", "call_id": "call_1",
                                                       "output": '{"time": "15:10"}'})
        await w.send("response.create")  # the call's answer is asked for: no expiry yet
        done = (await w.until("response.done"))[-1]["response"]
        assert done["status"] == "completed"
        assert done["output"][0]["content"][0]["transcript"] == "It is ten past three."
        await w.send("response.create")  # the follow-up
        with pytest.raises(ConnectionClosed):
            while True:
                await w.recv()
        assert w.seen[-1]["error"]["code"] == "session_expired"
        assert [e["type"] for e in w.seen].count("response.created") == 2
    assert emu.violations == []


async def test_the_follow_up_expiry_can_come_on_its_own() -> None:
    script = Script(turns=[Turn(reply=Reply(REPLY), fault=Fault.expire_in_follow_up(after_s=0.05))])
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu, wire(emu) as w:
        await w.send("response.create")
        await w.until("response.done")
        with pytest.raises(ConnectionClosed):
            while True:
                await w.recv()  # the client sends nothing more
        assert w.seen[-1]["error"]["code"] == "session_expired"
        assert await emu.wait_closed() == 1000


def test_fault_specs() -> None:
    assert parse_fault("garbage") == Fault.garbage(after_deltas=1)
    assert parse_fault("garbage:0:odd_audio,nan_number") == Fault.garbage("odd_audio", "nan_number", after_deltas=0)
    assert parse_fault("drop:3") == Fault.drop(after_deltas=3)
    assert parse_fault("drop") == Fault.drop()
    assert parse_fault("close:4000:2") == Fault.close(4000, after_deltas=2)
    assert parse_fault("expire:5") == Fault.session_expired(after_deltas=5)
    assert parse_fault("expire-follow-up") == Fault.expire_in_follow_up()
    assert parse_fault("expire-follow-up:2.5") == Fault.expire_in_follow_up(2.5)
    assert parse_fault("none") is None
    for bad in ("garbage:1:no_such_variant", "drop:x", "explode", "error", "close:1006"):
        with pytest.raises(ValueError):
            parse_fault(bad)


async def test_the_standalone_emulator_takes_faults_on_the_command_line() -> None:
    """``speaker-emulator --fault drop:2``: two audio deltas of the reply, then no close frame (1006)."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "realtime_emulator", "--port", str(port), "--fault", "drop:2",
        stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(20):
            assert proc.stderr is not None
            while "listening" not in (await proc.stderr.readline()).decode():
                pass
            async with connect(f"ws://127.0.0.1:{port}/v1/realtime?model={MODEL}",
                               additional_headers={"Authorization": f"Bearer {DEFAULT_KEY}"}) as ws:
                await ws.send(json.dumps({"type": "response.create"}))
                seen: list[dict[str, Any]] = []
                with pytest.raises(ConnectionClosedError) as info:
                    while True:
                        seen.append(json.loads(await ws.recv()))
            assert info.value.rcvd is None
            assert [e["type"] for e in seen].count("response.output_audio.delta") == 2
            assert "response.done" not in [e["type"] for e in seen]
            proc.send_signal(signal.SIGINT)
            await proc.stderr.read()
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
