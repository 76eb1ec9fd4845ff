"""The Realtime EMULATOR: a loopback WebSocket server speaking the GA Realtime protocol, standing in
for the OpenAI service in ``speaker demo`` and the tests. It is not the OpenAI service and says so in
every log line, in its session ids (``sess_emu…``) and in its default instructions.

    async with Emulator(script=Script(turns=[Turn(reply=Reply("It is ten past three."))])) as emu:
        settings.realtime.url = emu.url          # ws://127.0.0.1:<port>/v1/realtime (client adds ?model=)
        ...                                      # run the client
        await emu.wait_for("response.create", timeout=5)
        assert emu.violations == []

What it checks at the handshake, like the service: the path (``/v1/realtime`` or Azure's
``/openai/v1/realtime``), a ``model`` query, and the key (``Authorization: Bearer <key>`` or
``api-key: <key>``; a wrong or missing key is refused with HTTP 401 and the service's JSON error body).
An ``OpenAI-Beta`` header is accepted and then answered with ``beta_api_shape_disabled`` and close 4000.
"""

from __future__ import annotations

import json
import logging
import time
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from realtime_emulator.connection import Connection, EmulatorBug, Options
from realtime_emulator.record import ConnectionStats, Recorder
from realtime_emulator.script import Script, ScriptCursor
from realtime_emulator.session import SESSION_CAP_S
from realtime_emulator.validate import client_event_types

log = logging.getLogger(__name__)

PATHS = ("/v1/realtime", "/openai/v1/realtime")
DEFAULT_KEY = "sk-emulator"


class Emulator(Recorder):
    """An in-process GA Realtime server on loopback. Use as ``async with``; everything it saw is on the
    instance (see :class:`~realtime_emulator.record.Recorder`): ``received``, ``violations``,
    ``connections``, ``closed_codes``, ``append_seconds``, ``first_append_at``, ``wait_for`` …

    ``api_key=None`` accepts any key (and none). ``speed`` is how much faster than real time reply
    audio streams. ``max_session_s`` is the session cap (the service's is 60 minutes). ``strict``: an
    invalid event built by the emulator itself (a bug) fails ``__aexit__``."""

    def __init__(self, script: Script | None = None, *, api_key: str | None = DEFAULT_KEY,
                 host: str = "127.0.0.1", port: int = 0, speed: float = 4.0,
                 max_session_s: float = SESSION_CAP_S, strict: bool = True) -> None:
        super().__init__()
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.script = script or Script()
        self.cursor = ScriptCursor(self.script)
        self.api_key = api_key
        self.host = host
        self.port = port
        self.strict = strict
        self.options = Options(speed=speed, max_session_s=max_session_s)
        self.bugs: list[EmulatorBug] = []
        self._server: Server | None = None

    @property
    def url(self) -> str:
        """``ws://host:port/v1/realtime``, without a query: the client adds ``?model=``."""
        return f"ws://{self.host}:{self.port}/v1/realtime"

    async def __aenter__(self) -> Self:
        # build the validators now (importing openai takes ~0.5 s), not inside the first connection
        # where the stall would show up in the client's latency numbers
        client_event_types()
        self._server = await serve(
            self._handle, self.host, self.port, process_request=self._check_handshake,
            max_size=16 * 1024 * 1024,  # the service takes appends up to 15 MiB
            logger=_WebsocketsLog(logging.getLogger("realtime_emulator.websockets"), None),
        )
        sock = next(iter(self._server.sockets))
        self.port = int(sock.getsockname()[1])
        log.info("[emulator] Realtime EMULATOR — not the OpenAI service — listening on %s", self.url)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            log.info("[emulator] stopped after %d connection(s)", self.connections)
        if self.strict and self.bugs and exc is None:
            raise self.bugs[0]

    async def serve_forever(self) -> None:
        """For the standalone emulator: run until cancelled."""
        assert self._server is not None, "use inside `async with`"
        await self._server.serve_forever()

    # ----------------------------------------------------------------- handshake

    def _check_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        if url.path.rstrip("/") not in PATHS:
            return self._refuse(connection, HTTPStatus.NOT_FOUND, None, f"Invalid URL (GET {url.path})")
        if self.api_key is not None:
            key = request.headers.get("api-key")
            auth = request.headers.get("Authorization", "")
            if key is None and auth.lower().startswith("bearer "):
                key = auth[7:].strip()
            if not key:
                return self._refuse(
                    connection, HTTPStatus.UNAUTHORIZED, None,
                    "You didn't provide an API key. You need to provide your API key in an Authorization header "
                    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
            if key != self.api_key:
                return self._refuse(connection, HTTPStatus.UNAUTHORIZED, "invalid_api_key",
                                    f"Incorrect API key provided: {_masked(key)}.")
        if not query.get("model") and not query.get("call_id") and query.get("intent") != ["transcription"]:
            return self._refuse(connection, HTTPStatus.BAD_REQUEST, "missing_model",
                                "Missing required parameter: 'model'.", param="model")
        return None

    def _refuse(self, connection: ServerConnection, status: HTTPStatus, code: str | None, message: str,
                param: str | None = None) -> Response:
        log.info("[emulator] refusing a handshake: %d %s", status.value, code or status.phrase)
        body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
        response = connection.respond(status, json.dumps(body) + "\n")
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        self.refused.append(status.value)
        self.changed()
        return response

    # ----------------------------------------------------------------- connections

    async def _handle(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        url = urlsplit(request.path)
        models = parse_qs(url.query).get("model")
        model = models[0] if models else None
        stats = ConnectionStats(index=self.connections, path=url.path, model=model, connected_at=time.monotonic())
        self.stats.append(stats)
        self.changed()
        beta = "OpenAI-Beta" in request.headers
        log.info("[emulator] connection %d opened: %s model=%s%s", stats.index, url.path, model,
                 " (OpenAI-Beta header: refusing the beta shape)" if beta else "")
        conn = Connection(ws, stats, self, self.cursor, self.options)
        try:
            await conn.serve(beta=beta)
        except* EmulatorBug as group:
            self.bugs.extend(e for e in group.exceptions if isinstance(e, EmulatorBug))
            await ws.close(1011, "emulator bug: invalid server event")
        finally:
            stats.close_code = ws.close_code if ws.close_code is not None else 1006
            stats.close_reason = ws.close_reason or ""
            stats.closed_at = time.monotonic()
            self.changed()
            log.info("[emulator] connection %d closed: %s %s", stats.index, stats.close_code, stats.close_reason)


def _masked(key: str) -> str:
    return key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 8 else "*" * len(key)


class _WebsocketsLog(logging.LoggerAdapter[logging.Logger]):
    """The websockets library's own lines, labelled as the emulator's, its chatter moved to debug (the
    emulator logs connections itself)."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        super().log(logging.DEBUG if level == logging.INFO else level, f"[emulator] websockets: {msg}",
                    *args, **kwargs)
