"""The client against the project's Realtime emulator: a GA server on loopback that validates every event
it receives with the openai types. Here the client's real output meets a strict peer."""

from __future__ import annotations

import asyncio
import math
import struct
from typing import Any

import pytest

from realtime_emulator.script import Fault, Reply, Script, Turn
from realtime_emulator.server import Emulator
from speaker.backoff import Backoff
from speaker.config.schema import RealtimeSettings
from speaker.realtime.classify import FailureKind, RealtimeFailure
from speaker.realtime.client import RealtimeConnection, connect_realtime
from speaker.realtime.cost import SessionLedger
from speaker.realtime.events import (
    AudioDelta,
    RealtimeEvent,
    ResponseCreated,
    ResponseDone,
    ServerError,
    SessionUpdated,
    TranscriptDone,
)
from speaker.realtime.reconnect import open_with_retry
from speaker.realtime.session_config import build_session
from speaker.tools.base import ToolSpec

KEY = "sk-emulator"
LIMIT = 10.0
TIMER = ToolSpec("set_timer", "Start a kitchen timer.",
                 {"type": "object", "properties": {"seconds": {"type": "integer"}}, "required": ["seconds"]})


def tone(seconds: float, hz: float = 220.0) -> bytes:
    """A 24 kHz PCM16 tone, loud enough to count as input."""
    n = int(24000 * seconds)
    return struct.pack(f"<{n}h", *(int(8000 * math.sin(2 * math.pi * hz * i / 24000)) for i in range(n)))


def settings_for(emu: Emulator, **kw: Any) -> RealtimeSettings:
    return RealtimeSettings(url=emu.url, connect_timeout_s=3.0, **kw)


async def until(conn: RealtimeConnection, kind: type[Any]) -> list[RealtimeEvent]:
    """Events up to and including the first of ``kind``."""
    seen: list[RealtimeEvent] = []
    async for event in conn.events():
        seen.append(event)
        if isinstance(event, kind):
            return seen
    raise AssertionError(f"events ended before a {kind.__name__}: {seen}")


async def test_session_update_is_accepted_without_violations() -> None:
    async with asyncio.timeout(LIMIT), Emulator(script=Script(), api_key=KEY) as emu:
        settings = settings_for(emu)
        session = build_session(settings, tools=[TIMER], mcp_tools=[], voice="cedar",
                                extra_instructions="You are in the kitchen.")
        async with await connect_realtime(settings, KEY, session=session) as conn:
            seen = await until(conn, SessionUpdated)
        assert not [e for e in seen if isinstance(e, ServerError)]
        assert emu.violations == []
        assert [e["type"] for e in emu.received][:1] == ["session.update"]


async def test_append_commit_response_round_trip() -> None:
    script = Script(turns=[Turn(heard="what time is it", reply=Reply("It is ten past three."))])
    async with asyncio.timeout(LIMIT), Emulator(script=script, api_key=KEY) as emu:
        settings = settings_for(emu)  # local turn detection: we commit and ask for the response
        ledger = SessionLedger.for_settings(settings)
        session = build_session(settings, tools=[TIMER], mcp_tools=[])
        async with await connect_realtime(settings, KEY, session=session) as conn:
            for _ in range(10):
                conn.append_audio(tone(0.1))
            conn.send({"type": "input_audio_buffer.commit"})
            conn.send({"type": "response.create"})
            seen = await until(conn, ResponseDone)
            ledger.add_audio_sent(conn.audio_seconds_sent)
        done = seen[-1]
        assert isinstance(done, ResponseDone) and done.status == "completed"
        assert any(isinstance(e, ResponseCreated) for e in seen)
        audio = b"".join(e.pcm for e in seen if isinstance(e, AudioDelta))
        assert len(audio) > 24000  # more than half a second of reply
        assert [e.transcript for e in seen if isinstance(e, TranscriptDone)] == ["It is ten past three."]
        assert done.usage.audio_in > 0 and done.usage.audio_out > 0
        turn = ledger.record(done)
        assert turn.cost > 0
        assert "1 turn (1 response), 1.0 s audio sent" in ledger.summary_line(user_turns=1)
        assert emu.violations == []


async def test_beta_header_is_refused_as_fatal_and_not_retried() -> None:
    async with asyncio.timeout(LIMIT), Emulator(script=Script(), api_key=KEY) as emu:
        with pytest.raises(RealtimeFailure) as info:
            await open_with_retry(settings_for(emu), KEY, attempts=3, backoff=Backoff(0.01, cap=0.02),
                                  extra_headers={"OpenAI-Beta": "realtime=v1"})
        assert info.value.kind is FailureKind.FATAL and info.value.code == "beta_api_shape_disabled"
        assert emu.connections == 1


async def test_wrong_key_is_fatal() -> None:
    async with asyncio.timeout(LIMIT), Emulator(script=Script(), api_key=KEY) as emu:
        with pytest.raises(RealtimeFailure) as info:
            await open_with_retry(settings_for(emu), "sk-wrong-key-123456", attempts=3,
                                  backoff=Backoff(0.01, cap=0.02))
        assert info.value.kind is FailureKind.FATAL and not info.value.retryable
        assert info.value.code == "invalid_api_key" and emu.refused == [401]  # one attempt
        assert "sk-wrong-key-123456" not in str(info.value)


async def test_a_1011_on_connect_is_retried() -> None:
    script = Script(on_connect=[Fault.close(1011, "internal error"), None])
    async with asyncio.timeout(LIMIT), Emulator(script=script, api_key=KEY) as emu:
        conn = await open_with_retry(settings_for(emu), KEY, attempts=3, backoff=Backoff(0.01, cap=0.02))
        async with conn:
            assert conn.session_id
        assert emu.connections == 2


async def test_session_expiry_mid_reply_ends_with_its_own_kind() -> None:
    script = Script(turns=[Turn(reply=Reply("A long story."), fault=Fault.session_expired(after_deltas=2))])
    async with asyncio.timeout(LIMIT), Emulator(script=script, api_key=KEY) as emu:
        async with await connect_realtime(settings_for(emu), KEY) as conn:
            conn.append_audio(tone(0.5))
            conn.send({"type": "input_audio_buffer.commit"})
            conn.send({"type": "response.create"})
            with pytest.raises(RealtimeFailure) as info:
                async for _ in conn.events():
                    pass
        assert info.value.kind is FailureKind.SESSION_EXPIRED and not info.value.retryable


async def test_a_dropped_connection_mid_reply_is_retryable() -> None:
    script = Script(turns=[Turn(reply=Reply("A long story."), fault=Fault.drop(after_deltas=2))])
    async with asyncio.timeout(LIMIT), Emulator(script=script, api_key=KEY) as emu:
        async with await connect_realtime(settings_for(emu), KEY) as conn:
            conn.append_audio(tone(0.5))
            conn.send({"type": "input_audio_buffer.commit"})
            conn.send({"type": "response.create"})
            deltas = 0
            with pytest.raises(RealtimeFailure) as info:
                async for event in conn.events():
                    deltas += isinstance(event, AudioDelta)
        assert deltas == 2
        assert info.value.retryable and info.value.code == "1006"


async def test_a_beta_shaped_session_update_ends_the_session_with_the_reason() -> None:
    async with asyncio.timeout(LIMIT), Emulator(script=Script(), api_key=KEY) as emu:
        async with await connect_realtime(settings_for(emu), KEY,
                                          session={"type": "realtime", "voice": "marin"}) as conn:
            with pytest.raises(RealtimeFailure) as info:
                async for _ in conn.events():
                    pass
        assert info.value.kind is FailureKind.FATAL and "session.voice" in str(info.value)
        assert len(emu.violations) == 1  # the validator saw it too
