"""One bridged MCP server (LAN streamable HTTP or a local stdio program), kept connected.

``ServerConnection.run`` is the body of the server's own task: it connects with the official SDK,
lists the tools, then watches the connection (a ``tools/list`` health check every ``retry_s``, or a
failed call) and reconnects when it is lost. It never raises except ``CancelledError``: an
unreachable server is only a log line and an empty tool list.

The SDK's ``Client`` runs anyio task groups that must be entered and left by the same task, so only
the owner task opens and closes it; tool calls from other tasks use the open client and report a
lost connection back through an event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack, suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx2
import mcp_types
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

import speaker
from speaker.config.schema import McpBridgedServer
from speaker.config.secret import Secret
from speaker.errors import SecretError, ToolError

log = logging.getLogger(__name__)

MAX_LIST_PAGES = 50
"""A server that paginates forever cannot hang the connect."""
HTTP_READ_TIMEOUT_S = 300.0
"""A streamable HTTP server may hold a response stream open this long (calls are bounded separately)."""

_TRANSPORT_ERRORS = (OSError, httpx2.HTTPError, anyio.ClosedResourceError, anyio.BrokenResourceError,
                     anyio.EndOfStream)


class ServerConnection:
    """The live state of one bridged server. Read ``up``, ``tools`` and ``last_error``; call tools
    with ``call``. ``on_change`` is called (in the owner task) whenever ``up`` or ``tools`` change."""

    def __init__(self, server: McpBridgedServer, on_change: Callable[[], None]) -> None:
        self.settings = server
        self.up = False
        self.tools: tuple[mcp_types.Tool, ...] = ()
        """Tools the server offers and ``allowed_tools`` lets through, as last listed."""
        self.last_error: str | None = None
        self.connect_seconds: float | None = None
        self.attempted = asyncio.Event()
        """Set once the first connection attempt has finished, whatever its outcome."""
        self._on_change = on_change
        self._client: Client | None = None
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._http_status: int | None = None

    @property
    def label(self) -> str:
        return self.settings.label

    @property
    def transport(self) -> str:
        return "http" if self.settings.url is not None else "stdio"

    @property
    def where(self) -> str:
        """The URL (without credentials or query) or the command, for log lines."""
        if self.settings.url is not None:
            parts = urlsplit(self.settings.url)
            host = parts.netloc.rpartition("@")[2]
            return urlunsplit((parts.scheme, host, parts.path, "", ""))
        assert self.settings.command is not None
        return " ".join(self.settings.command)

    # ----------------------------------------------------------------------- owner task

    async def run(self) -> None:
        """Connect, serve, reconnect; forever (until cancelled)."""
        warned: str | None = None
        while True:
            was_up = False
            try:
                await self._serve()
                reason = self._lost_reason
                was_up = True
            except Exception as exc:
                was_up = self.up
                reason = self._describe(exc)
            finally:
                self._client = None
                self._set_down()
            self.last_error = reason
            self.attempted.set()
            if was_up:
                log.warning("bridged MCP server %s (%s) went away: %s; its tools are left out until it is back",
                            self.label, self.where, reason)
                warned = None
                delay = min(1.0, self.settings.retry_s)  # it may be back already (a restart): try soon once
            else:
                if reason != warned:
                    log.warning("bridged MCP server %s (%s) is not reachable: %s; its tools are left out, "
                                "retrying every %g s", self.label, self.where, reason, self.settings.retry_s)
                    warned = reason
                else:
                    log.debug("bridged MCP server %s still not reachable: %s", self.label, reason)
                delay = self.settings.retry_s
            await asyncio.sleep(delay)

    async def _serve(self) -> None:
        """One connection: returns when it is lost (reason in ``_lost_reason``), raises if it cannot
        be made."""
        started = time.monotonic()
        self._http_status = None
        async with AsyncExitStack() as stack:
            async with asyncio.timeout(self.settings.timeout_s):
                client = await stack.enter_async_context(Client(await self._target(stack),
                                                                client_info=_CLIENT_INFO))
                tools = await self._list(client)
            self.connect_seconds = time.monotonic() - started
            self._lost.clear()
            self._client = client
            self.up = True
            self.tools = tools
            self.last_error = None
            self.attempted.set()
            log.info("bridged MCP server %s (%s) connected in %.2f s (protocol %s): %d tools: %s",
                     self.label, self.where, self.connect_seconds, client.protocol_version, len(tools),
                     ", ".join(t.name for t in tools) or "none")
            self._notify()
            await self._watch(client)
            self._client = None  # no new calls on a client that is being closed

    async def _target(self, stack: AsyncExitStack) -> Any:
        """What ``mcp.Client`` connects to: a streamable HTTP transport with our own httpx client (for
        the bearer token) or the stdio parameters."""
        server = self.settings
        if server.url is not None:
            headers = {}
            if server.token is not None:
                headers["Authorization"] = f"Bearer {server.token.reveal()}"
            timeout = httpx2.Timeout(server.timeout_s, read=HTTP_READ_TIMEOUT_S)
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=headers, timeout=timeout,
                                   event_hooks={"response": [self._record_status]}))
            return streamable_http_client(server.url, http_client=http)
        assert server.command is not None
        env = {name: value.reveal() if isinstance(value, Secret) else value for name, value in server.env.items()}
        return StdioServerParameters(command=server.command[0], args=list(server.command[1:]), env=env or None)

    async def _record_status(self, response: httpx2.Response) -> None:
        self._http_status = response.status_code if response.status_code >= 400 else None

    async def _list(self, client: Client) -> tuple[mcp_types.Tool, ...]:
        listed: list[mcp_types.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_LIST_PAGES):
            page = await client.list_tools(cursor=cursor, cache_mode="bypass")
            listed.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        allowed = self.settings.allowed_tools
        if allowed is None:
            return tuple(listed)
        names = {t.name for t in listed}
        missing = [name for name in allowed if name not in names]
        if missing and not self.up:
            log.warning("bridged MCP server %s does not offer allowed_tools %s (it offers: %s)",
                        self.label, ", ".join(missing), ", ".join(sorted(names)) or "none")
        return tuple(t for t in listed if t.name in allowed)

    async def _watch(self, client: Client) -> None:
        """Wait for a failed call to report the connection lost; every ``retry_s`` check it with a
        ``tools/list`` (which also picks up a changed tool list)."""
        while True:
            with suppress(TimeoutError):
                async with asyncio.timeout(self.settings.retry_s):
                    await self._lost.wait()
            if self._lost.is_set():
                return
            try:
                async with asyncio.timeout(self.settings.timeout_s):
                    tools = await self._list(client)
            except Exception as exc:
                self._lost_reason = "health check failed: " + self._describe(exc)
                return
            if tools != self.tools:
                self.tools = tools
                log.info("bridged MCP server %s changed its tools: %s", self.label,
                         ", ".join(t.name for t in tools) or "none")
                self._notify()

    def _set_down(self) -> None:
        if self.up:
            self.up = False
            self.tools = ()
            self._notify()

    def _notify(self) -> None:
        try:
            self._on_change()
        except Exception:
            log.exception("MCP bridge change callback failed")

    # ----------------------------------------------------------------------- calls (any task)

    async def call(self, name: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        """Call a tool; raises ToolError (text for the model) when the server is not reachable, does
        not answer within ``timeout_s`` or refuses the request."""
        client = self._client
        if client is None or not self.up:
            raise ToolError(self._unreachable(name))
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                return await client.call_tool(name, arguments)
        except TimeoutError:
            raise ToolError(f"The {self.label} MCP server did not answer within {self.settings.timeout_s:g} "
                            f"seconds; whether '{name}' was done is unknown. Tell the user.") from None
        except MCPError as exc:
            if exc.code == mcp_types.CONNECTION_CLOSED:
                self._report_lost(self._describe(exc))
                raise ToolError(self._unreachable(name)) from None
            raise ToolError(f"The {self.label} MCP server refused the call of '{name}': {exc.message}") from None
        except _TRANSPORT_ERRORS as exc:
            self._report_lost(self._describe(exc))
            raise ToolError(self._unreachable(name)) from None
        except ValidationError:
            log.warning("bridged MCP server %s sent an invalid result for %s", self.label, name, exc_info=True)
            raise ToolError(f"The {self.label} MCP server sent a reply for '{name}' that could not be read; "
                            "whether it was done is unknown.") from None

    def _unreachable(self, name: str) -> str:
        return (f"The {self.label} MCP server is not reachable right now, so '{name}' was not done. "
                "Tell the user; it may work again later.")

    def _report_lost(self, reason: str) -> None:
        if not self._lost.is_set():
            self._lost_reason = reason
            self._lost.set()

    # ----------------------------------------------------------------------- errors for humans

    def _describe(self, exc: BaseException) -> str:
        """One line for the log; never contains a secret (SecretError names only the source)."""
        leaf = _leaf(exc)
        status = self._http_status
        if status in (401, 403):
            token = self.settings.token
            hint = f"check the token in {token.source}" if token is not None else "does it need a 'token'?"
            return f"HTTP {status}: the server refused us ({hint})"
        if status == 404:
            return "HTTP 404: no MCP endpoint at this URL (Home Assistant's is http://<host>:8123/api/mcp)"
        if status is not None:
            return f"HTTP {status} from the server"
        command = self.settings.command[0] if self.settings.command else ""
        match leaf:
            case SecretError():
                return str(leaf)
            case FileNotFoundError() if self.settings.command:
                return f"command not found: {command}"
            case PermissionError() if self.settings.command:
                return f"permission denied running {command}"
            case TimeoutError():
                return f"no answer within {self.settings.timeout_s:g} s"
            case MCPError() if leaf.code == mcp_types.CONNECTION_CLOSED:
                if self.settings.command:
                    return "the program exited or closed its output (its own messages are on stderr)"
                return "the connection was closed"
            case MCPError():
                return f"MCP error {leaf.code}: {leaf.message}"
            case httpx2.ConnectError():
                return f"cannot connect ({leaf})"
            case httpx2.HTTPError():
                return f"{type(leaf).__name__}: {leaf}"
            case OSError() if leaf.strerror:
                return leaf.strerror
            case _:
                return f"{type(leaf).__name__}: {leaf}" if str(leaf) else type(leaf).__name__


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups, which anyio task groups raise."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        inner = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)]
        exc = (inner or list(exc.exceptions))[0]
    return exc


_CLIENT_INFO = mcp_types.Implementation(name="room-speaker", version=speaker.__version__)
