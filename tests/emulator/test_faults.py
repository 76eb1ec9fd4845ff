"""Fault injection: each fault does what a client will meet from the real service, once."""

from __future__ import annotations

import asyncio
import json
import math
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from realtime_emulator import DEFAULT_KEY, Emulator, Fault, Reply, Script, Turn
from realtime_emulator.connection import EmulatorBug
from realtime_emulator.script import SESSION_EXPIRED_MESSAGE
from tests.emulator.wire import MODEL, types, wire

LIMIT = 10.0
HEADERS = {"Authorization": f"Bearer {DEFAULT_KEY}"}


def story(fault: Fault) -> Script:
    return Script(turns=[Turn(reply=Reply("The timer is set for five minutes."), fault=fault)])


async def test_error_instead_of_a_response_then_the_turn_plays() -> None:
    script = story(Fault.error("rate_limit_exceeded", "Rate limit reached.", type="rate_limit_error"))
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu, wire(emu) as w:
        await w.send("response.create")
        error = (await w.until("error"))[-1]["error"]
        await w.send("response.create")  # a retry gets the turn
        events = await w.until("response.done")
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "rate_limit_error"
    assert len([e for e in w.seen if e["type"] == "response.created"]) == 1
    assert events[-1]["response"]["status"] == "completed"
    assert emu.violations == []


async def test_drop_mid_reply_is_an_abnormal_closure() -> None:
    async with asyncio.timeout(LIMIT), Emulator(story(Fault.drop(after_deltas=2)), speed=50) as emu, wire(emu) as w:
        await w.send("response.create")
        with pytest.raises(ConnectionClosedError) as info:
            while True:
                await w.recv()
        assert info.value.rcvd is None  # no close frame: the client sees 1006
        assert types(w.seen).count("response.output_audio.delta") == 1  # collapsed run
        assert len([e for e in w.seen if e["type"] == "response.output_audio.delta"]) == 2
        assert "response.done" not in types(w.seen)
        assert await emu.wait_closed() == 1006
    assert emu.violations == []


async def test_close_on_connect_then_a_clean_second_connection() -> None:
    script = Script(on_connect=[Fault.close(1011, "internal error"), None])
    async with asyncio.timeout(LIMIT), Emulator(script) as emu:
        async with connect(f"{emu.url}?model={MODEL}", additional_headers=HEADERS) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
        rcvd = info.value.rcvd
        assert rcvd is not None and (rcvd.code, rcvd.reason) == (1011, "internal error")
        async with wire(emu, session=None) as w:
            assert w.seen[0]["type"] == "session.created"
        await emu.wait_closed()
        assert emu.closed_codes == [1011, 1000] and emu.connections == 2
    assert emu.violations == []


async def test_close_4000_mid_reply() -> None:
    async with asyncio.timeout(LIMIT), Emulator(story(Fault.close(4000, "bye", after_deltas=1)), speed=50) as emu, \
            wire(emu) as w:
        await w.send("response.create")
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await w.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 4000
        assert await emu.wait_closed() == 4000


async def test_session_expired_mid_reply() -> None:
    script = story(Fault.session_expired(after_deltas=3))
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu, wire(emu) as w:
        await w.send("response.create")
        with pytest.raises(ConnectionClosed):
            while True:
                await w.recv()
        error = w.seen[-1]
        assert error["type"] == "error" and error["error"]["code"] == "session_expired"
        assert error["error"]["message"] == SESSION_EXPIRED_MESSAGE
        assert len([e for e in w.seen if e["type"] == "response.output_audio.delta"]) == 3
        assert await emu.wait_closed() == 1000
    assert emu.violations == []


async def test_the_session_cap() -> None:
    wall = time.time()
    async with asyncio.timeout(LIMIT), Emulator(max_session_s=0.3) as emu, wire(emu, session=None) as w:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed):
            while True:
                await w.recv()
        # lower bounds only: a slow machine makes the session last longer, never shorter
        assert time.monotonic() - started >= 0.25
        assert w.seen[-1]["error"]["code"] == "session_expired"
        expires_at = w.seen[0]["session"]["expires_at"]  # unix seconds: when the cap hits
        # announced at connect time as then + 0.3 s, rounded up to the second: after we began, and
        # no later than now + 0.3 s rounded up (however long the connection took to come up)
        assert wall + 0.3 <= expires_at <= math.ceil(time.time() + 0.3)


async def test_stall_on_connect_reads_but_never_answers() -> None:
    async with asyncio.timeout(LIMIT), Emulator(Script(on_connect=[Fault.stall()])) as emu, \
            connect(f"{emu.url}?model={MODEL}", additional_headers=HEADERS) as ws:
        await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        await emu.wait_for("input_audio_buffer.clear")  # received and recorded
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.4):
                await ws.recv()
        assert emu.sent == []
    assert emu.closed_codes == [1000]


async def test_stall_on_a_turn_then_it_answers() -> None:
    async with asyncio.timeout(LIMIT), Emulator(story(Fault.stall(0.3)), speed=50) as emu, wire(emu) as w:
        asked = time.monotonic()
        await w.send("response.create")
        await w.send("input_audio_buffer.clear")
        await w.until("input_audio_buffer.cleared")
        assert time.monotonic() - asked >= 0.28  # a stall holds back everything, not just the response
        assert (await w.until("response.done"))[-1]["response"]["status"] == "completed"
    assert emu.violations == []


async def test_delay_on_connect_and_on_a_turn() -> None:
    script = Script(turns=[Turn(reply=Reply("It is ten past three."), fault=Fault.delay(0.3))],
                    on_connect=[Fault.delay(0.3)])
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu:
        opened = time.monotonic()
        async with wire(emu, session=None) as w:
            assert time.monotonic() - opened >= 0.28  # session.created came late
            asked = time.monotonic()
            await w.send("response.create")
            await w.send("input_audio_buffer.clear")
            before = await w.until("response.created")
            assert time.monotonic() - asked >= 0.28
            assert types(before) == ["input_audio_buffer.cleared", "response.created"]  # others flowed meanwhile
            assert (await w.until("response.done"))[-1]["response"]["status"] == "completed"
    assert emu.violations == []


async def test_response_failed() -> None:
    fault = Fault.response_failed("server_error", "The server had an error while processing your request.",
                                  after_deltas=2)
    async with asyncio.timeout(LIMIT), Emulator(story(fault), speed=50) as emu, wire(emu) as w:
        await w.send("response.create")
        done = (await w.until("response.done"))[-1]["response"]
        assert done["status"] == "failed"
        assert done["status_details"]["error"] == {"type": "server_error", "code": "server_error",
                                                   "message": "The server had an error while processing your request."}
        assert done["output"][0]["status"] == "incomplete"
        await w.send("response.create")  # the turn was cut short, so it plays again
        again = (await w.until("response.done"))[-1]["response"]
        assert again["status"] == "completed"
    assert emu.violations == []


def test_fault_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="close code 1006"):
        Fault.close(1006)
    with pytest.raises(ValueError):
        Fault.delay(-1)
    with pytest.raises(ValueError):
        Turn(then=Reply("x"))


async def test_an_invalid_event_built_by_the_emulator_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    from realtime_emulator.response import ResponseRun

    original = ResponseRun._response

    def drifted(self: ResponseRun, status: str) -> dict[str, object]:
        return {**original(self, status), "modalities": ["audio"]}  # a beta-era field

    monkeypatch.setattr(ResponseRun, "_response", drifted)
    with pytest.raises(EmulatorBug, match=r"response\.modalities"):
        async with asyncio.timeout(LIMIT), Emulator() as emu, wire(emu) as w:
            await w.send("response.create")
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await w.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 1011
    assert emu.violations and emu.violations[0].side == "server"
