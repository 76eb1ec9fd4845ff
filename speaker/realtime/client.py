"""One Realtime WebSocket connection (GA protocol): open, send, receive typed events, close.

Usage (the app)::

    session = build_session(settings.realtime, tools=registry.specs(), mcp_tools=mcp)
    async with await connect_realtime(settings.realtime, api_key, session=session) as conn:
        conn.append_audio(pcm24k)                       # never blocks
        conn.send({"type": "input_audio_buffer.commit"})  # never blocks; returns the event_id
        conn.send({"type": "response.create"})
        async for event in conn.events():               # typed events from speaker.realtime.events
            ...
        # leaving the block (or ``await conn.close()``) sends a normal close (1000)

How errors surface:

* opening raises :class:`~speaker.realtime.classify.RealtimeFailure` (a ``RealtimeError`` with ``code``,
  ``retryable`` and ``kind``): HTTP 401/403/404 and a 4000 close are fatal, 5xx/429, refused connections and
  timeouts are retryable. ``open()`` returns only after the server's ``session.created``.
* a server ``error`` event is always delivered as :class:`~speaker.realtime.events.ServerError` (its
  ``.kind`` classifies it). Fatal ones (bad key, beta shape…) and ``session_expired`` also end the
  connection: ``events()`` yields the ``ServerError`` and then raises the failure. So does an error
  answering the ``session.update`` given to :meth:`RealtimeConnection.open` (fatal unless the error is
  retryable): a session running on the server's defaults would answer on its own and have no tools.
* when the socket closes without us asking, ``events()`` yields what was already received and then raises
  a ``RealtimeFailure`` classified by the close code (1011 retryable, 4000 fatal…). After our own
  ``close()`` it simply ends.
* ``send()`` after the connection ended raises the failure that ended it.

Delivery policy: received events go to a queue bounded at ``event_queue_size``. When the consumer falls
that far behind, the receive loop waits up to ``stall_timeout_s`` for room (the server's frames pile up in
the socket meanwhile; nothing is dropped); if the consumer is still stuck, the connection ends with a
fatal ``consumer_stalled`` failure rather than silently losing audio or a ``response.done``. Unknown event
types are logged at debug and not delivered. Malformed events (see ``speaker.realtime.events``) and events
that refer to nothing (see ``speaker.realtime.guard``) are dropped, counted in ``dropped`` and logged at
warning, rate-limited; none of them ends the connection.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import platform
import urllib.parse
from collections.abc import AsyncIterator, Mapping, MutableMapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.version import version as websockets_version

from speaker import __version__
from speaker.config.schema import RealtimeSettings
from speaker.realtime import classify
from speaker.realtime.classify import FailureKind, RealtimeFailure
from speaker.realtime.events import RealtimeEvent, ServerError, SessionCreated
from speaker.realtime.guard import Intake
from speaker.realtime.session_config import session_update_event

log = logging.getLogger(__name__)

USER_AGENT: Final = (f"room-speaker/{__version__} (+https://github.com/room-speaker) "
                     f"websockets/{websockets_version} Python/{platform.python_version()}")
PING_INTERVAL_S: Final = 20.0
PING_TIMEOUT_S: Final = 20.0
CLOSE_TIMEOUT_S: Final = 3.0
EVENT_QUEUE_SIZE: Final = 2048
"""About 40 s of audio deltas at the server's usual pace: far more than a healthy consumer ever lags."""
STALL_TIMEOUT_S: Final = 10.0
MAX_APPEND_BYTES: Final = 3 * 1024 * 1024
"""Raw PCM per ``input_audio_buffer.append`` (the API takes up to 15 MiB of base64 per event)."""
PCM24K_BYTES_PER_S: Final = 24000 * 2

APPEND: Final = "input_audio_buffer.append"


def realtime_url(settings: RealtimeSettings) -> str:
    """``settings.url`` with the model (OpenAI) or deployment (Azure GA) as the ``model`` query."""
    return f"{settings.url}?{urllib.parse.urlencode({'model': settings.model})}"


def auth_headers(settings: RealtimeSettings, api_key: str) -> dict[str, str]:
    """``Authorization: Bearer`` (OpenAI, Azure Entra tokens) or ``api-key`` (Azure keys). Never an
    ``OpenAI-Beta`` header: the GA server closes the socket with 4000 when it sees one."""
    if settings.auth == "api-key":
        return {"api-key": api_key}
    return {"Authorization": f"Bearer {api_key}"}


def display_url(url: str) -> str:
    """The URL as it may appear in a log: no user info, no query."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class _End:
    failure: RealtimeFailure | None


_CLOSE: Final = object()


class RealtimeConnection:
    """An open Realtime session over one WebSocket. Create it with :meth:`open` (or
    :func:`connect_realtime`); use it as an async context manager. See the module docstring."""

    def __init__(self, ws: ClientConnection, *, api_key: str, url: str,
                 event_queue_size: int = EVENT_QUEUE_SIZE, stall_timeout_s: float = STALL_TIMEOUT_S) -> None:
        self._ws = ws
        self._api_key = api_key
        self._url = url
        self._queue_limit = max(1, event_queue_size)
        self._stall_timeout_s = stall_timeout_s
        self._out: asyncio.Queue[str | object] = asyncio.Queue()
        self._in: asyncio.Queue[RealtimeEvent | _End] = asyncio.Queue()  # bounded by hand: see _deliver
        self._room = asyncio.Event()
        self._ids = itertools.count(1)
        self._closing = False
        self._end: _End | None = None
        self._error_failure: RealtimeFailure | None = None
        self._config_event_id: str | None = None
        self._ready: asyncio.Future[SessionCreated] = asyncio.get_running_loop().create_future()
        self._audio_bytes = 0
        self._intake = Intake(log)
        self.session_id: str | None = None
        """The server's session id, from ``session.created``."""
        self.model: str | None = None
        """The model the server reports, from ``session.created``."""
        self._reader = asyncio.create_task(self._read(), name="realtime-reader")
        self._writer = asyncio.create_task(self._write(), name="realtime-writer")

    # ------------------------------------------------------------------ opening

    @classmethod
    async def open(cls, settings: RealtimeSettings, api_key: str, *, session: dict[str, Any] | None = None,
                   event_queue_size: int = EVENT_QUEUE_SIZE, stall_timeout_s: float = STALL_TIMEOUT_S,
                   ping_interval_s: float | None = PING_INTERVAL_S,
                   ping_timeout_s: float | None = PING_TIMEOUT_S,
                   extra_headers: Mapping[str, str] | None = None) -> RealtimeConnection:
        """Connect, send ``session.update`` with ``session`` (if given) right away, and return once the
        server has sent ``session.created``. The whole open is bounded by ``settings.connect_timeout_s``.
        ``extra_headers`` are added to the handshake (e.g. ``OpenAI-Safety-Identifier``).
        Raises :class:`RealtimeFailure` (see :mod:`speaker.realtime.classify` for what is retryable)."""
        if not api_key:
            raise RealtimeFailure("no Realtime API key", kind=FailureKind.FATAL, code="no_api_key")
        url = realtime_url(settings)
        shown = display_url(url)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(settings.connect_timeout_s):
                ws = await connect(
                    url,
                    additional_headers={**(extra_headers or {}), **auth_headers(settings, api_key)},
                    user_agent_header=USER_AGENT,
                    max_size=None,  # conversation.item.retrieved with audio exceeds the 1 MiB default
                    ping_interval=ping_interval_s,
                    ping_timeout=ping_timeout_s,
                    open_timeout=settings.connect_timeout_s,
                    close_timeout=CLOSE_TIMEOUT_S,
                    # websockets logs request headers at debug: route its logger through a key filter
                    logger=_Redacting(logging.getLogger("websockets.client"), api_key),
                )
        except InvalidStatus as exc:
            raise _http_failure(exc, api_key) from exc
        except InvalidURI as exc:
            raise RealtimeFailure(f"bad Realtime URL {shown}: {exc}", kind=FailureKind.FATAL,
                                  code="invalid_url") from exc
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            raise classify.from_exception(exc) from exc
        handshake_ms = (loop.time() - started) * 1000
        conn = cls(ws, api_key=api_key, url=shown, event_queue_size=event_queue_size,
                   stall_timeout_s=stall_timeout_s)
        try:
            if session is not None:
                conn._config_event_id = conn.send(session_update_event(session))
            remaining = max(settings.connect_timeout_s - (loop.time() - started), 0.001)
            try:
                async with asyncio.timeout(remaining):
                    created = await conn._ready
            except TimeoutError:
                raise RealtimeFailure(f"no session.created from {shown} within {settings.connect_timeout_s:g} s",
                                      kind=FailureKind.RETRYABLE, code="timeout") from None
        except BaseException:
            await conn._shutdown()
            raise
        log.info("realtime: connected to %s (model %s, session %s): session.created after %.0f ms "
                 "(handshake %.0f ms)", shown, created.model or settings.model, created.session_id or "?",
                 (loop.time() - started) * 1000, handshake_ms)
        return conn

    # ------------------------------------------------------------------ sending

    def send(self, event: Mapping[str, Any]) -> str:
        """Queue one client event for the writer task and return its ``event_id`` (assigned here unless the
        event has one; the server echoes it in ``error.event_id``). Never blocks; raises the failure that
        ended the connection if it has ended, TypeError/ValueError for an event that cannot be sent."""
        self._check_open()
        kind = event.get("type")
        if not isinstance(kind, str):
            raise ValueError("a client event needs a 'type'")
        event_id = str(event.get("event_id") or f"spk_{next(self._ids)}")
        payload = {"type": kind, "event_id": event_id, **{k: v for k, v in event.items() if k not in
                                                          ("type", "event_id")}}
        self._out.put_nowait(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
        if kind != APPEND:
            log.debug("realtime > %s %s", kind, event_id)
        return event_id

    def append_audio(self, pcm24k: bytes) -> None:
        """Send raw PCM (16-bit little-endian mono, 24 kHz) as ``input_audio_buffer.append`` event(s)."""
        if len(pcm24k) % 2:
            raise ValueError("PCM16 audio must have an even number of bytes")
        view = memoryview(pcm24k)
        for start in range(0, len(view), MAX_APPEND_BYTES):
            chunk = view[start:start + MAX_APPEND_BYTES]
            self.send({"type": APPEND, "audio": base64.b64encode(chunk).decode("ascii")})
            self._audio_bytes += len(chunk)

    @property
    def audio_seconds_sent(self) -> float:
        """Seconds of audio appended over this connection (for the cost ledger)."""
        return self._audio_bytes / PCM24K_BYTES_PER_S

    @property
    def dropped(self) -> dict[str, int]:
        """Server events dropped or repaired on this connection, by category (see ``guard.DropLog``)."""
        return dict(self._intake.log.counts)

    @property
    def closed(self) -> bool:
        """True once the connection ended (our close, the server's, or a failure)."""
        return self._closing or self._end is not None

    # ------------------------------------------------------------------ receiving

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        """Typed server events in arrival order (one consumer at a time). Ends cleanly after our own
        :meth:`close`; raises :class:`RealtimeFailure` when the server or the network ended the session."""
        while True:
            item = await self._in.get()
            self._room.set()
            if isinstance(item, _End):
                self._in.put_nowait(item)  # a later events() call ends the same way
                if item.failure is not None:
                    raise item.failure
                return
            yield item

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Flush queued events, send a normal close (1000), wait for the server's close and stop both
        tasks. Idempotent; each step is bounded by a few seconds."""
        self._closing = True
        if not self._writer.done():
            self._out.put_nowait(_CLOSE)
            await asyncio.wait({self._writer}, timeout=CLOSE_TIMEOUT_S)
        await self._ws.close()  # no-op once closed; bounded by close_timeout
        await asyncio.wait({self._reader}, timeout=CLOSE_TIMEOUT_S)
        await self._shutdown()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            await self.close()
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        """Cancel and await both tasks, then drop the socket if it is still open."""
        tasks = [t for t in (self._reader, self._writer) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._ws.transport is not None and not self._ws.transport.is_closing():
            self._ws.transport.abort()
        if not self._ready.done():
            self._ready.cancel()

    # ------------------------------------------------------------------ tasks

    async def _write(self) -> None:
        try:
            while True:
                item = await self._out.get()
                if item is _CLOSE:
                    await self._ws.close(1000)
                    return
                assert isinstance(item, str)
                await self._ws.send(item)
        except ConnectionClosed:
            return  # the reader reports why
        except Exception:
            log.exception("realtime: writer failed")
            self._ws.transport.abort()  # the reader sees the close and ends the connection

    async def _read(self) -> None:
        failure: RealtimeFailure | None = None
        try:
            failure = await self._receive_loop()
        except Exception as exc:  # a bug here must end the connection visibly, not hang it
            log.exception("realtime: receive loop failed")
            failure = RealtimeFailure(f"internal error in the Realtime receive loop: {exc!r}",
                                      kind=FailureKind.FATAL, code="internal")
        finally:
            # runs on cancellation too (CancelledError propagates): consumers must never hang
            self._finish(failure)

    async def _receive_loop(self) -> RealtimeFailure | None:
        while True:
            try:
                raw = await self._ws.recv()
            except ConnectionClosed as exc:
                return self._close_failure(exc)
            event = self._intake.take(raw)
            if event is None:
                continue
            if isinstance(event, SessionCreated):
                self.session_id, self.model = event.session_id, event.model
                if not self._ready.done():
                    self._ready.set_result(event)
            elif isinstance(event, ServerError):
                self._log_server_error(event)
            if not await self._deliver(event):
                await self._ws.close(1000)
                return RealtimeFailure(
                    f"the consumer of Realtime events fell {self._queue_limit} events behind for "
                    f"{self._stall_timeout_s:g} s", kind=FailureKind.FATAL, code="consumer_stalled")
            if isinstance(event, ServerError):
                self._error_failure = self._ending_failure(event)
                if self._error_failure is not None:
                    await self._ws.close(1000)
                    return self._error_failure

    def _ending_failure(self, event: ServerError) -> RealtimeFailure | None:
        """The failure a server error ends the connection with, or None when the session goes on."""
        message = classify.scrub(event.message, self._api_key)
        if event.kind in (FailureKind.FATAL, FailureKind.SESSION_EXPIRED):
            return classify.from_error_event(event.code, event.type, message)
        if event.event_id is not None and event.event_id == self._config_event_id \
                and event.kind is not FailureKind.BENIGN:
            # running on with the server's defaults (server VAD answering on its own, no tools, the wrong
            # voice) is worse than no conversation: end it, and say which setting was refused
            where = f" ({event.param})" if event.param else ""
            return RealtimeFailure(
                f"the server refused the session configuration{where}: {event.code or event.type}: {message}",
                kind=FailureKind.RETRYABLE if event.kind is FailureKind.RETRYABLE else FailureKind.FATAL,
                code=event.code or "session_config_refused")
        return None

    async def _deliver(self, event: RealtimeEvent) -> bool:
        """Queue for the consumer, waiting (bounded) for room. False if the consumer is stuck."""
        while self._in.qsize() >= self._queue_limit:
            self._room.clear()
            try:
                async with asyncio.timeout(self._stall_timeout_s):
                    await self._room.wait()
            except TimeoutError:
                return False
        self._in.put_nowait(event)
        return True

    def _close_failure(self, exc: ConnectionClosed) -> RealtimeFailure | None:
        if self._closing:
            return None  # we asked for it
        if self._error_failure is not None:
            return self._error_failure
        rcvd, sent = exc.rcvd, exc.sent
        if rcvd is not None:
            return classify.from_close(rcvd.code, classify.scrub(rcvd.reason, self._api_key))
        # no close frame from the server: our keepalive gave up (we sent 1011) or TCP dropped (1006)
        return classify.from_close(sent.code if sent is not None and sent.code != 1000 else 1006, "")

    def _finish(self, failure: RealtimeFailure | None) -> None:
        if self._end is not None:
            return
        self._end = _End(failure)
        self._in.put_nowait(self._end)  # the queue is unbounded: ending never blocks
        self._out.put_nowait(_CLOSE)  # let the writer stop
        if not self._ready.done():
            if failure is None:
                failure = RealtimeFailure("connection closed before session.created", kind=FailureKind.RETRYABLE,
                                          code="1006")
            self._ready.set_exception(failure)
            self._ready.exception()  # retrieved here: open() may have stopped waiting already
        if failure is None:
            log.debug("realtime: connection to %s closed", self._url)
        elif failure.kind is FailureKind.SESSION_EXPIRED:
            log.info("realtime: server ended the session: %s", failure)
        else:
            log.warning("realtime: connection ended (%s): %s", failure.kind, failure)

    def _log_server_error(self, event: ServerError) -> None:
        message = classify.scrub(event.message, self._api_key)
        if event.kind is FailureKind.BENIGN:
            log.debug("realtime: server error %s (harmless race): %s", event.code, message)
        elif event.kind in (FailureKind.REQUEST_ERROR, FailureKind.RETRYABLE):
            log.warning("realtime: server error %s/%s for event %s: %s", event.type, event.code,
                        event.event_id or "?", message)
        # fatal and session_expired are logged once when the connection ends

    def _check_open(self) -> None:
        if self._end is not None and self._end.failure is not None:
            raise self._end.failure
        if self.closed:
            raise RealtimeFailure("the Realtime connection is closed", kind=FailureKind.FATAL, code="closed")


async def connect_realtime(settings: RealtimeSettings, api_key: str, *, session: dict[str, Any] | None = None,
                           **options: Any) -> RealtimeConnection:
    """Open a connection; same as :meth:`RealtimeConnection.open`. Use as
    ``async with await connect_realtime(settings, key) as conn:``."""
    return await RealtimeConnection.open(settings, api_key, session=session, **options)


def _http_failure(exc: InvalidStatus, api_key: str) -> RealtimeFailure:
    status = exc.response.status_code
    code: str | None = None
    detail: str | None = None
    try:
        body = json.loads(exc.response.body or b"{}")
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            code = str(err["code"]) if err.get("code") else None
            detail = str(err.get("message") or "") or None
    except (ValueError, UnicodeDecodeError):
        pass
    return classify.from_http(status, classify.scrub(detail, api_key) if detail else None, code)


class _Redacting(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Passes websockets' own log lines on with the key blanked (its debug log prints request headers)."""

    def __init__(self, logger: logging.Logger, secret: str) -> None:
        super().__init__(logger, {})
        self._secret = secret

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            text = str(msg).replace(self._secret, "***")
            clean = tuple(str(a).replace(self._secret, "***") if self._secret in str(a) else a for a in args)
            super().log(level, text, *clean, **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        return msg, kwargs


if TYPE_CHECKING:
    from speaker.realtime.port import RealtimeSession

    _conforms: type[RealtimeSession] = RealtimeConnection  # mypy checks the adapter fits the port
