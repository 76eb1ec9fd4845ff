"""Bridged MCP servers: servers the Realtime cloud cannot reach (Home Assistant's MCP server on the
LAN, a local stdio program). We connect to them with the official SDK and offer each of their tools
to the model as an ordinary function tool named ``<label>__<tool>``.

    async with McpBridge(settings.mcp, on_change=wake_up_the_core) as bridge:
        await bridge.wait_ready(5)          # optional: give the first connections a moment
        registry.extend(bridge.tools())     # tools of the servers reachable now
        ...                                 # bridge.version grows whenever that set changes

An unreachable server is left out (one warning) and retried every ``retry_s`` by its own task; when
it comes back its tools reappear, ``version`` grows and ``on_change`` is called, so the next
Realtime session offers them. A tool whose server has gone away answers with a ``ToolError``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import mcp_types

from speaker.config.schema import McpSettings
from speaker.errors import ToolError
from speaker.mcp.connection import ServerConnection
from speaker.mcp.parameters import function_parameters
from speaker.tools.base import Tool, ToolSpec

log = logging.getLogger(__name__)

NAME_SEPARATOR = "__"
MAX_NAME = 64
MAX_DESCRIPTION = 1024
"""Tool descriptions are sent in every session; a longer one is clipped."""
_INVALID_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(frozen=True)
class ServerStatus:
    """What ``speaker check`` and the logs show about one bridged server."""

    label: str
    transport: str
    """``http`` or ``stdio``."""
    where: str
    """URL (without credentials) or command line."""
    up: bool
    tools: tuple[str, ...]
    """Function names of its tools offered to the model (empty while down)."""
    error: str | None
    connect_seconds: float | None


class BridgedTool:
    """One MCP tool as a ``speaker.tools.base.Tool``."""

    def __init__(self, spec: ToolSpec, connection: ServerConnection, mcp_name: str) -> None:
        self._spec = spec
        self._connection = connection
        self.mcp_name = mcp_name
        """The tool's own name on its server."""

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    @property
    def server_label(self) -> str:
        return self._connection.label

    async def call(self, arguments: dict[str, Any]) -> Any:
        """Call the tool on its server; text content joined, ``structured_content`` when present."""
        result = await self._connection.call(self.mcp_name, arguments)
        return tool_output(result, server=self._connection.label, tool=self.mcp_name)

    def __repr__(self) -> str:
        return f"BridgedTool({self._spec.name!r})"


class McpBridge:
    """All bridged servers of the configuration, each kept connected by its own named task
    (``mcp-bridge:<label>``). An async context manager: leaving it cancels and awaits the tasks,
    which closes the connections and stops stdio programs."""

    def __init__(self, settings: McpSettings, *, on_change: Callable[[], None] | None = None) -> None:
        self._on_change = on_change
        self._connections = [ServerConnection(server, self._changed) for server in settings.bridged]
        self._tasks: list[asyncio.Task[None]] = []
        self._tools: list[BridgedTool] = []
        self._version = 0

    async def __aenter__(self) -> McpBridge:
        for connection in self._connections:
            self._tasks.append(asyncio.create_task(connection.run(), name=f"mcp-bridge:{connection.label}"))
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        for task in self._tasks:
            task.cancel()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for task, result in zip(self._tasks, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("task %s ended with %r", task.get_name(), result)
        self._tasks.clear()

    @property
    def version(self) -> int:
        """Grows by one whenever the set of tools (or their schemas) changes."""
        return self._version

    def tools(self) -> list[Tool]:
        """The tools of every server reachable now, in configuration order."""
        return list(self._tools)

    def status(self) -> list[ServerStatus]:
        names: dict[str, list[str]] = {}
        for tool in self._tools:
            names.setdefault(tool.server_label, []).append(tool.spec.name)
        return [ServerStatus(label=c.label, transport=c.transport, where=c.where, up=c.up,
                             tools=tuple(names.get(c.label, ())), error=c.last_error,
                             connect_seconds=c.connect_seconds)
                for c in self._connections]

    async def wait_ready(self, limit_s: float) -> bool:
        """Wait until every server has had its first connection attempt (at most ``limit_s``).
        True if all did; the bridge keeps trying either way."""
        if not self._connections:
            return True
        try:
            async with asyncio.timeout(limit_s):
                for connection in self._connections:
                    await connection.attempted.wait()
        except TimeoutError:
            return False
        return True

    def _changed(self) -> None:
        self._tools = build_tools(self._connections)
        self._version += 1
        if self._on_change is not None:
            try:
                self._on_change()
            except Exception:
                log.exception("MCP bridge on_change callback failed")


def build_tools(connections: list[ServerConnection]) -> list[BridgedTool]:
    """Function tools for the listed tools of every connected server; unique names."""
    tools: list[BridgedTool] = []
    taken: set[str] = set()
    for connection in connections:
        if not connection.up:
            continue
        for listed in connection.tools:
            parameters = function_parameters(listed.input_schema)
            if parameters is None:
                log.warning("bridged MCP tool %s.%s left out: its input schema is not an object schema",
                            connection.label, listed.name)
                continue
            name = function_name(connection.label, listed.name, taken)
            taken.add(name)
            spec = ToolSpec(name=name, description=_description(listed, connection.label),
                            parameters=parameters)
            tools.append(BridgedTool(spec, connection, listed.name))
    return tools


def function_name(label: str, tool: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """``<label>__<tool>`` made valid for a function tool (``^[a-zA-Z0-9_-]{1,64}$``): other
    characters become ``_``, the result is cut to 64 characters, and a name already in ``taken`` gets
    ``_2``, ``_3``… (within the 64)."""
    clean = _INVALID_NAME_CHARS.sub("_", tool) or "tool"
    base = f"{label}{NAME_SEPARATOR}{clean}"[:MAX_NAME]
    name, n = base, 1
    while name in taken:
        n += 1
        suffix = f"_{n}"
        name = base[: MAX_NAME - len(suffix)] + suffix
    return name


def _description(tool: mcp_types.Tool, label: str) -> str:
    text = (tool.description or tool.title or "").strip() or f"The {tool.name} tool of the {label} MCP server."
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def tool_output(result: mcp_types.CallToolResult, *, server: str, tool: str) -> dict[str, Any]:
    """What the model gets back: ``text`` (all text content joined, with a placeholder for images,
    audio and binary resources, which a speaker cannot use) and ``structured_content`` when the
    server sent one. The text is left out when it is just the JSON of the structured content.
    ``is_error`` raises ToolError with the server's message."""
    parts: list[str] = []
    for block in result.content:
        match block:
            case mcp_types.TextContent():
                parts.append(block.text)
            case mcp_types.ImageContent() | mcp_types.AudioContent():
                parts.append(f"[{block.type} ({block.mime_type}) left out: the speaker cannot use it]")
            case mcp_types.ResourceLink():
                parts.append(f"[resource {block.name}: {block.uri}]")
            case mcp_types.EmbeddedResource():
                resource = block.resource
                if isinstance(resource, mcp_types.TextResourceContents):
                    parts.append(resource.text)
                else:
                    parts.append(f"[binary resource {resource.uri} left out]")
            case _:
                parts.append(f"[{getattr(block, 'type', 'unknown')} content left out]")
    text = "\n".join(parts)
    if result.is_error:
        raise ToolError(f"{server} tool {tool} failed: {text or 'no reason given'}")
    out: dict[str, Any] = {}
    structured = result.structured_content
    if structured is not None:
        out["structured_content"] = structured
    if text and not (structured is not None and _same_json(text, structured)):
        out["text"] = text
    return out or {"ok": True}


def _same_json(text: str, value: Any) -> bool:
    try:
        return bool(json.loads(text) == value)
    except ValueError:
        return False
