"""The handshake, as the service does it: path, model, key (401 with a JSON body), and the beta header."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from realtime_emulator import DEFAULT_KEY, Emulator
from realtime_emulator.session import EMULATOR_INSTRUCTIONS
from tests.emulator.wire import MODEL, wire

LIMIT = 10.0


async def test_bearer_key_gets_a_labelled_default_session() -> None:
    async with asyncio.timeout(LIMIT), Emulator() as emu, wire(emu, session=None) as w:
        created = w.seen[0]
        session = created["session"]
        assert created["type"] == "session.created" and created["event_id"].startswith("event_emu")
        assert session["model"] == MODEL  # as requested
        assert session["id"].startswith("sess_emu") and session["object"] == "realtime.session"
        assert session["instructions"] == EMULATOR_INSTRUCTIONS and "EMULATOR" in session["instructions"]
        assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"  # the service's default
        assert session["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
        assert emu.stats[0].model == MODEL and emu.stats[0].path == "/v1/realtime"
    assert emu.violations == [] and emu.closed_codes == [1000]


async def test_azure_path_and_api_key_header() -> None:
    async with asyncio.timeout(LIMIT), Emulator(api_key="azure-key") as emu:
        url = emu.url.replace("/v1/realtime", "/openai/v1/realtime") + "?model=my-deployment"
        async with connect(url, additional_headers={"api-key": "azure-key"}) as ws:
            created = json.loads(await ws.recv())
        assert created["session"]["model"] == "my-deployment"
        assert emu.stats[0].path == "/openai/v1/realtime"


@pytest.mark.parametrize(("headers", "code", "message"), [
    ({"Authorization": "Bearer sk-wrong-key-123456"}, "invalid_api_key", "Incorrect API key provided"),
    ({"api-key": "sk-wrong-key-123456"}, "invalid_api_key", "Incorrect API key provided"),
    ({}, None, "You didn't provide an API key"),
])
async def test_a_wrong_or_missing_key_is_refused_with_401(headers: dict[str, str], code: str | None,
                                                          message: str) -> None:
    async with asyncio.timeout(LIMIT), Emulator() as emu:
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"{emu.url}?model={MODEL}", additional_headers=headers):
                pass
        response = info.value.response
        assert response.status_code == 401
        assert response.headers["Content-Type"] == "application/json"
        error = json.loads(response.body)["error"]
        assert error["type"] == "invalid_request_error" and error["code"] == code
        assert error["message"].startswith(message)
        assert "sk-wrong-key-123456" not in error["message"]  # the service masks the key it quotes
        assert emu.refused == [401] and emu.connections == 0


@pytest.mark.parametrize(("path", "status"), [("/v1/realtime", 400), ("/v1/chat", 404), ("/realtime", 404)])
async def test_bad_path_or_missing_model(path: str, status: int) -> None:
    async with asyncio.timeout(LIMIT), Emulator() as emu:
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"ws://127.0.0.1:{emu.port}{path}",
                               additional_headers={"Authorization": f"Bearer {DEFAULT_KEY}"}):
                pass
        assert info.value.response.status_code == status and emu.refused == [status]


async def test_any_key_when_none_is_set() -> None:
    async with asyncio.timeout(LIMIT), Emulator(api_key=None) as emu, \
            connect(f"{emu.url}?model={MODEL}") as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"


async def test_the_beta_header_is_refused_with_4000() -> None:
    async with asyncio.timeout(LIMIT), Emulator() as emu:
        async with connect(f"{emu.url}?model={MODEL}", additional_headers={
                "Authorization": f"Bearer {DEFAULT_KEY}", "OpenAI-Beta": "realtime=v1"}) as ws:
            error = json.loads(await ws.recv())
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv()
        assert error["type"] == "error"
        assert error["error"]["code"] == "beta_api_shape_disabled"
        assert error["error"]["type"] == "invalid_request_error"
        assert info.value.rcvd is not None and info.value.rcvd.code == 4000
        assert info.value.rcvd.reason == "invalid_request_error.beta_api_shape_disabled"
        assert await emu.wait_closed() == 4000
    assert emu.violations == []
