"""RealtimeConnection over a real loopback WebSocket against a tiny scripted server."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection

from speaker.backoff import Backoff
from speaker.config.schema import RealtimeSettings
from speaker.errors import RealtimeError
from speaker.realtime.classify import FailureKind, RealtimeFailure
from speaker.realtime.client import RealtimeConnection, connect_realtime
from speaker.realtime.events import (
    AudioDelta,
    RealtimeEvent,
    ResponseCreated,
    ResponseDone,
    ServerError,
    SessionCreated,
    Usage,
)
from speaker.realtime.reconnect import open_with_retry
from tests.helpers.ports import free_port
from tests.realtime.fake_server import SERVER_LOGGER, FakeRealtime, session_created

KEY = "sk-test-SECRET-0123456789abcdef"
LIMIT = 30.0  # every test body is bounded by this: it catches a hang, never a slow machine


def settings_for(url: str, **kw: Any) -> RealtimeSettings:
    return RealtimeSettings(url=url, connect_timeout_s=kw.pop("connect_timeout_s", 2.0), **kw)


async def collect(conn: RealtimeConnection) -> tuple[list[RealtimeEvent], BaseException | None]:
    """All events until events() ends, and how it ended."""
    out: list[RealtimeEvent] = []
    try:
        async for ev in conn.events():
            out.append(ev)
    except RealtimeError as exc:
        return out, exc
    return out, None


def client_log(caplog: pytest.LogCaptureFixture) -> str:
    """Everything logged in the process except by the fake server (which logs what it received)."""
    return "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records if r.name != SERVER_LOGGER)


def ev(**fields: Any) -> str:
    return json.dumps(fields)


USAGE = {"total_tokens": 253, "input_tokens": 132, "output_tokens": 121,
         "input_token_details": {"text_tokens": 119, "audio_tokens": 13, "image_tokens": 0, "cached_tokens": 64,
                                 "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0, "image_tokens": 0}},
         "output_token_details": {"text_tokens": 30, "audio_tokens": 91}}


# ---------------------------------------------------------------------------- handshake


async def test_openai_handshake_sends_bearer_and_no_beta_header() -> None:
    async with (asyncio.timeout(LIMIT), FakeRealtime() as server,
                await connect_realtime(settings_for(server.url), KEY) as conn):
        assert conn.session_id == "sess_fake"
        request = server.requests[0]
        assert request.path == "/v1/realtime?model=gpt-realtime-2.1"
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        assert "OpenAI-Beta" not in request.headers
        assert "api-key" not in request.headers
        assert request.headers["User-Agent"].startswith("room-speaker/")


async def test_azure_handshake_sends_api_key_header() -> None:
    async with asyncio.timeout(LIMIT), FakeRealtime() as server:
        settings = settings_for(server.url.replace("/v1/realtime", "/openai/v1/realtime"), auth="api-key",
                                model="my-speaker-deployment")
        async with await RealtimeConnection.open(settings, KEY):
            pass
        request = server.requests[0]
        assert request.path == "/openai/v1/realtime?model=my-speaker-deployment"
        assert request.headers["api-key"] == KEY
        assert "Authorization" not in request.headers
        assert "OpenAI-Beta" not in request.headers


async def test_session_update_goes_out_first_with_an_event_id() -> None:
    async with asyncio.timeout(LIMIT), FakeRealtime() as server:
        session = {"type": "realtime", "instructions": "Be brief."}
        async with await connect_realtime(settings_for(server.url), KEY, session=session) as conn:
            conn.send({"type": "response.create"})
        assert [e["type"] for e in server.received] == ["session.update", "response.create"]
        assert server.received[0]["session"] == session
        assert server.received[0]["event_id"]


# ---------------------------------------------------------------------------- sending


async def test_writer_preserves_order_and_assigns_unique_event_ids() -> None:
    async with asyncio.timeout(LIMIT), FakeRealtime() as server:
        pcm = bytes(range(256)) * 30  # 7680 bytes = 160 ms at 24 kHz
        async with await connect_realtime(settings_for(server.url), KEY) as conn:
            returned = []
            for i in range(50):
                conn.append_audio(pcm)
                returned.append(conn.send({"type": "conversation.item.delete", "item_id": f"item_{i}"}))
            conn.send({"type": "input_audio_buffer.commit", "event_id": "mine"})
            assert conn.audio_seconds_sent == pytest.approx(50 * 0.16)
        got = server.received
        assert len(got) == 101
        assert [e["item_id"] for e in got if e["type"] == "conversation.item.delete"] == [
            f"item_{i}" for i in range(50)]
        assert [e["type"] for e in got[:4]] == ["input_audio_buffer.append", "conversation.item.delete"] * 2
        assert base64.b64decode(got[0]["audio"]) == pcm
        assert got[-1] == {"type": "input_audio_buffer.commit", "event_id": "mine"}
        ids = [e["event_id"] for e in got]
        assert len(set(ids)) == len(ids)
        assert returned == [e["event_id"] for e in got if e["type"] == "conversation.item.delete"]


async def test_append_audio_refuses_half_samples() -> None:
    async with (asyncio.timeout(LIMIT), FakeRealtime() as server,
                await connect_realtime(settings_for(server.url), KEY) as conn):
        with pytest.raises(ValueError, match="even"):
            conn.append_audio(b"\x00\x01\x02")
        conn.append_audio(b"")  # nothing to send
        assert server.received == []


# ---------------------------------------------------------------------------- receiving


async def test_events_are_typed_unknown_and_malformed_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    async def script(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
        await ws.send(session_created())
        await ws.send(ev(type="response.created", event_id="e1", response={"id": "resp_1"}))
        await ws.send(ev(type="brand.new.event", event_id="e2"))  # a type this client does not know
        await ws.send(ev(type="response.output_item.added", response_id="resp_1", output_index=0,
                         item={"id": "it_1", "type": "message"}))  # announces it_1: consumed by the guard
        await ws.send("{not json")
        await ws.send(ev(type="response.output_audio.delta", event_id="e3", response_id="resp_1"))  # no delta
        await ws.send(ev(type="response.output_audio.delta", event_id="e4", response_id="resp_1", item_id="it_1",
                         output_index=0, content_index=0, delta=base64.b64encode(b"\x01\x02").decode()))
        await ws.send(ev(type="response.done", event_id="e5",
                         response={"id": "resp_1", "status": "completed", "usage": USAGE}))
        await ws.close(1011, "boom")

    caplog.set_level(logging.DEBUG, logger="speaker.realtime")
    async with (asyncio.timeout(LIMIT), FakeRealtime(script) as server,
                await connect_realtime(settings_for(server.url), KEY) as conn):
        events, end = await collect(conn)
    assert [type(e) for e in events] == [SessionCreated, ResponseCreated, AudioDelta, ResponseDone]
    delta = events[2]
    assert isinstance(delta, AudioDelta) and delta.pcm == b"\x01\x02" and delta.item_id == "it_1"
    done = events[3]
    assert isinstance(done, ResponseDone)
    assert done.usage == Usage(text_in=119, text_cached=64, audio_in=13, audio_cached=0, text_out=30, audio_out=91)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("not JSON" in m for m in warnings)
    assert any("malformed server event" in m and "delta" in m for m in warnings)
    assert any("brand.new.event" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
    assert isinstance(end, RealtimeFailure) and end.kind is FailureKind.RETRYABLE and end.code == "1011"


async def test_our_normal_close_ends_events_cleanly_with_code_1000() -> None:
    async with asyncio.timeout(LIMIT), FakeRealtime() as server:
        conn = await connect_realtime(settings_for(server.url), KEY)
        async with conn:
            first = await anext(aiter(conn.events()))
            assert isinstance(first, SessionCreated)
            await conn.close()
            events, end = await collect(conn)
            assert events == [] and end is None
            assert conn.closed
            with pytest.raises(RealtimeError):
                conn.send({"type": "response.create"})
    assert server.close_codes == [1000]


async def test_close_4000_after_open_is_fatal() -> None:
    async def script(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
        await ws.send(session_created())
        await ws.send(ev(type="error", event_id="e1", error={
            "type": "invalid_request_error", "code": "beta_api_shape_disabled",
            "message": "The Realtime Beta API is no longer supported.", "param": None}))
        await ws.close(4000, "invalid_request_error.beta_api_shape_disabled")

    async with (asyncio.timeout(LIMIT), FakeRealtime(script) as server,
                await connect_realtime(settings_for(server.url), KEY) as conn):
        events, end = await collect(conn)
        with pytest.raises(RealtimeFailure):
            conn.send({"type": "response.create"})  # the failure that ended it
    assert [type(e) for e in events] == [SessionCreated, ServerError]
    assert isinstance(events[1], ServerError) and events[1].kind is FailureKind.FATAL
    assert isinstance(end, RealtimeFailure)
    assert end.kind is FailureKind.FATAL and not end.retryable and end.code == "beta_api_shape_disabled"


async def test_bare_close_4000_is_fatal_even_without_an_error_event() -> None:
    async def script(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
        await ws.send(session_created())
        await ws.close(4000, "")

    async with (asyncio.timeout(LIMIT), FakeRealtime(script) as server,
                await connect_realtime(settings_for(server.url), KEY) as conn):
        _, end = await collect(conn)
    assert isinstance(end, RealtimeFailure) and end.kind is FailureKind.FATAL and end.code == "4000"


async def test_session_expired_ends_the_connection_with_its_own_kind() -> None:
    async def script(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
        await ws.send(session_created())
        await ws.send(ev(type="error", event_id="e1", error={
            "type": "invalid_request_error", "code": "session_expired",
            "message": "Your session hit the maximum duration of 60 minutes."}))
        await server.record(ws)  # the client closes first

    async with (asyncio.timeout(LIMIT), FakeRealtime(script) as server,
                await connect_realtime(settings_for(server.url), KEY) as conn):
        events, end = await collect(conn)
    assert isinstance(events[-1], ServerError) and events[-1].code == "session_expired"
    assert isinstance(end, RealtimeFailure)
    assert end.kind is FailureKind.SESSION_EXPIRED and end.code == "session_expired" and not end.retryable
    assert server.close_codes == [1000]


async def test_benign_and_request_errors_keep_the_session_open() -> None:
    async def script(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
        await ws.send(session_created())
        await ws.send(ev(type="error", event_id="e1", error={
            "type": "invalid_request_error", "code": "response_cancel_not_active", "message": "nothing"}))
        await ws.send(ev(type="error", event_id="e2", error={
            "type": "invalid_request_error", "code": "invalid_value", "message": "bad", "event_id": "spk_1"}))
        await ws.send(ev(type="response.created", event_id="e3", response={"id": "resp_9"}))
        await server.record(ws)

    async with (asyncio.timeout(LIMIT), FakeRealtime(script) as server,
                await connect_realtime(settings_for(server.url), KEY) as conn):
        got: list[RealtimeEvent] = []
        async for event in conn.events():
            got.append(event)
            if isinstance(event, ResponseCreated):
                break
        assert not conn.closed
    kinds = [e.kind for e in got if isinstance(e, ServerError)]
    assert kinds == [FailureKind.BENIGN, FailureKind.REQUEST_ERROR]
    assert isinstance(got[2], ServerError) and got[2].event_id == "spk_1"


async def test_dropped_tcp_connection_is_retryable() -> None:
    async def script(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
        await ws.send(session_created())
        await asyncio.sleep(0.05)
        ws.transport.abort()

    async with (asyncio.timeout(LIMIT), FakeRealtime(script) as server,
                await connect_realtime(settings_for(server.url), KEY) as conn):
        _, end = await collect(conn)
    assert isinstance(end, RealtimeFailure) and end.retryable and end.code == "1006"


async def test_a_stuck_consumer_ends_the_connection_instead_of_dropping_events() -> None:
    async def script(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
        await ws.send(session_created())
        for i in range(10):
            await ws.send(ev(type="response.created", event_id=f"e{i}", response={"id": f"resp_{i}"}))
        await server.record(ws)

    async with (asyncio.timeout(LIMIT), FakeRealtime(script) as server,
                await connect_realtime(settings_for(server.url), KEY, event_queue_size=3, stall_timeout_s=0.2) as conn):
        while not conn.closed:  # noqa: ASYNC110 - nobody reads until the client gives up on its consumer
            await asyncio.sleep(0.01)
        events, end = await collect(conn)
    assert len(events) == 3  # what fitted; nothing after it was silently skipped
    assert isinstance(end, RealtimeFailure) and end.code == "consumer_stalled"


async def test_leaving_the_block_stops_every_task() -> None:
    async with asyncio.timeout(LIMIT), FakeRealtime() as server:
        async with await connect_realtime(settings_for(server.url), KEY):
            names = {t.get_name() for t in asyncio.all_tasks()}
            assert {"realtime-reader", "realtime-writer"} <= names
        assert not {t for t in asyncio.all_tasks() if t.get_name().startswith("realtime-")}


async def test_cancelling_the_owner_cancels_the_connection() -> None:
    async with asyncio.timeout(LIMIT), FakeRealtime() as server:
        connected = asyncio.Event()

        async def owner() -> None:
            async with await connect_realtime(settings_for(server.url), KEY) as conn:
                connected.set()
                async for _ in conn.events():
                    pass

        task = asyncio.create_task(owner(), name="owner")
        await connected.wait()
        await asyncio.sleep(0)  # one loop step: the owner is inside events(), waiting for one
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not {t for t in asyncio.all_tasks() if t.get_name().startswith("realtime-")}


# ---------------------------------------------------------------------------- opening failures


async def test_http_401_is_fatal_attempted_once_and_the_key_is_never_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # everything, websockets' own header dump included
    body = {"error": {"type": "invalid_request_error", "code": "invalid_api_key",
                      "message": f"Incorrect API key provided: {KEY[:8]}***{KEY[-4:]}. Find your key..."}}
    async with asyncio.timeout(LIMIT), FakeRealtime(reject=(401, body)) as server:
        with pytest.raises(RealtimeFailure) as info:
            await open_with_retry(settings_for(server.url), KEY, attempts=4, backoff=Backoff(0.01, cap=0.02))
    assert server.connections == 1
    assert info.value.kind is FailureKind.FATAL and not info.value.retryable
    assert info.value.code == "invalid_api_key"
    assert KEY not in str(info.value) and KEY[-4:] not in str(info.value)
    assert KEY not in client_log(caplog)


async def test_the_key_is_never_logged_on_a_working_connection(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("websockets").setLevel(logging.DEBUG)  # the app pins it at WARNING; try the worst case
    try:
        async with (asyncio.timeout(LIMIT), FakeRealtime() as server,
                    await connect_realtime(settings_for(server.url), KEY) as conn):
            conn.send({"type": "response.create"})
    finally:
        logging.getLogger("websockets").setLevel(logging.NOTSET)
    assert "Authorization: Bearer ***" in client_log(caplog)  # websockets did dump the request headers…
    assert KEY not in client_log(caplog)  # …with the key blanked
    connected = [r for r in caplog.records if r.name == "speaker.realtime.client" and r.levelno == logging.INFO]
    assert len(connected) == 1
    assert "127.0.0.1" in connected[0].getMessage() and "gpt-realtime-2.1" in connected[0].getMessage()


async def test_close_4000_on_open_is_attempted_exactly_once() -> None:
    async def script(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
        await ws.close(4000, "invalid_request_error.beta_api_shape_disabled")

    async with asyncio.timeout(LIMIT), FakeRealtime(script) as server:
        with pytest.raises(RealtimeFailure) as info:
            await open_with_retry(settings_for(server.url), KEY, attempts=4, backoff=Backoff(0.01, cap=0.02))
    assert server.connections == 1
    assert info.value.kind is FailureKind.FATAL and info.value.code == "beta_api_shape_disabled"


async def test_close_1011_on_open_is_retried_until_it_works() -> None:
    async def script(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
        if attempt < 3:
            await ws.close(1011, "internal error")
            return
        await ws.send(session_created(session_id=f"sess_{attempt}"))
        await server.record(ws)

    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    async with asyncio.timeout(LIMIT), FakeRealtime(script) as server:
        conn = await open_with_retry(settings_for(server.url), KEY, attempts=4,
                                     backoff=Backoff(1.0, cap=8.0, rng=lambda: 0.5), sleep=sleep)
        async with conn:
            assert conn.session_id == "sess_3"
    assert server.connections == 3
    assert delays == [0.5, 1.0]


async def test_retryable_failures_give_up_after_the_attempts() -> None:
    async def script(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
        await ws.close(1013, "try again later")

    async with asyncio.timeout(LIMIT), FakeRealtime(script) as server:
        with pytest.raises(RealtimeFailure) as info:
            await open_with_retry(settings_for(server.url), KEY, attempts=2, backoff=Backoff(0.01, cap=0.02))
    assert server.connections == 2
    assert info.value.retryable and info.value.code == "1013"


@pytest.mark.parametrize(("status", "kind"), [(403, FailureKind.FATAL), (404, FailureKind.FATAL),
                                              (429, FailureKind.RETRYABLE), (503, FailureKind.RETRYABLE)])
async def test_http_status_on_the_handshake(status: int, kind: FailureKind) -> None:
    async with asyncio.timeout(LIMIT), FakeRealtime(reject=(status, {"error": {"message": "no"}})) as server:
        with pytest.raises(RealtimeFailure) as info:
            await connect_realtime(settings_for(server.url), KEY)
    assert info.value.kind is kind and info.value.code == f"http_{status}"


async def test_connection_refused_is_retryable() -> None:
    async with asyncio.timeout(LIMIT):
        with pytest.raises(RealtimeFailure) as info:
            await connect_realtime(settings_for(f"ws://127.0.0.1:{free_port()}/v1/realtime"), KEY)
    assert info.value.retryable and info.value.code == "connection_refused"


async def test_no_session_created_times_out_as_retryable() -> None:
    async def script(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
        await server.record(ws)  # accepts, never greets

    async with asyncio.timeout(LIMIT), FakeRealtime(script) as server:
        with pytest.raises(RealtimeFailure) as info:  # the 0.3 s connect timeout, long before LIMIT's
            await connect_realtime(settings_for(server.url, connect_timeout_s=0.3), KEY)
    assert info.value.retryable and info.value.code == "timeout"
    assert not {t for t in asyncio.all_tasks() if t.get_name().startswith("realtime-")}


async def test_missing_key_is_fatal_without_connecting() -> None:
    async with asyncio.timeout(LIMIT), FakeRealtime() as server:
        with pytest.raises(RealtimeFailure) as info:
            await connect_realtime(settings_for(server.url), "")
    assert info.value.kind is FailureKind.FATAL and server.connections == 0


async def test_a_refused_session_configuration_ends_the_connection() -> None:
    async def script(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
        await ws.send(session_created())
        update = json.loads(await ws.recv())
        await ws.send(ev(type="error", event_id="e1", error={
            "type": "invalid_request_error", "code": "invalid_value", "message": "Invalid value: 'loud'.",
            "param": "session.audio.output.voice", "event_id": update["event_id"]}))
        await server.record(ws)

    session = {"type": "realtime", "audio": {"output": {"voice": "loud"}}}
    async with (asyncio.timeout(LIMIT), FakeRealtime(script) as server,
                await connect_realtime(settings_for(server.url), KEY, session=session) as conn):
        events, end = await collect(conn)
    assert isinstance(events[-1], ServerError) and events[-1].kind is FailureKind.REQUEST_ERROR
    assert isinstance(end, RealtimeFailure) and end.kind is FailureKind.FATAL and end.code == "invalid_value"
    assert "session.audio.output.voice" in str(end)


async def test_an_error_for_another_event_does_not_end_the_connection() -> None:
    async def script(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
        await ws.send(session_created())
        await ws.send(ev(type="error", event_id="e1", error={
            "type": "invalid_request_error", "code": "invalid_value", "message": "no", "event_id": "spk_99"}))
        await ws.send(ev(type="response.created", event_id="e2", response={"id": "resp_1"}))
        await server.record(ws)

    async with (asyncio.timeout(LIMIT), FakeRealtime(script) as server,
                await connect_realtime(settings_for(server.url), KEY, session={"type": "realtime"}) as conn):
        async for event in conn.events():
            if isinstance(event, ResponseCreated):
                break
        assert not conn.closed

