"""A tiny scripted Realtime server on loopback (real WebSocket, no validation): each test says what the
server does on each connection. For protocol conformance the tests use the real emulator instead."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

# the fake server's own log prints the client's key: tests that inspect logs skip this logger
SERVER_LOGGER = "tests.realtime.fake_server"

Script = Callable[["FakeRealtime", ServerConnection, int], Awaitable[None]]
"""(server, connection, attempt number from 1) -> runs the conversation; the socket closes when it returns."""


def session_created(session_id: str = "sess_fake", model: str = "gpt-realtime-2.1") -> str:
    return json.dumps({"type": "session.created", "event_id": "ev_0",
                       "session": {"type": "realtime", "id": session_id, "object": "realtime.session",
                                   "model": model}})


async def greet_then_record(server: FakeRealtime, ws: ServerConnection, attempt: int) -> None:
    """The default script: session.created, then record every event until the client closes."""
    await ws.send(session_created())
    await server.record(ws)


@dataclass
class FakeRealtime:
    script: Script = greet_then_record
    reject: tuple[int, dict[str, Any]] | None = None
    """Refuse the upgrade with this HTTP status and JSON body."""
    requests: list[Request] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)
    _server: Server | None = None

    @property
    def connections(self) -> int:
        return len(self.requests)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/v1/realtime"

    async def record(self, ws: ServerConnection) -> None:
        async for message in ws:
            self.received.append(json.loads(message))

    async def __aenter__(self) -> FakeRealtime:
        self._server = await serve(self._handle, "127.0.0.1", 0, process_request=self._process_request,
                                   max_size=None, logger=logging.getLogger(SERVER_LOGGER))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request)
        if self.reject is None:
            return None
        status, payload = self.reject
        body = json.dumps(payload).encode()
        headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return Response(status, "Refused", headers, body)

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            await self.script(self, ws, self.connections)
        finally:
            await ws.close()
            self.close_codes.append(ws.close_code)
