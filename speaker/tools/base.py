"""The tool port. Every function the model can call (MQTT device tools, built-ins, bridged MCP tools)
is a ``Tool``; the ``ToolRegistry`` runs them with argument validation, a timeout and a log line, and
always returns a JSON string for ``function_call_output`` — an error is written for the model."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from speaker.errors import ToolError

log = logging.getLogger(__name__)

MAX_ARGUMENTS_CHARS = 8192


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    confirm: bool = False
    """Run only after the user said yes aloud (``speaker.core.confirm``); not sent to the service."""
    question: str | None = None

    def to_realtime(self) -> dict[str, Any]:
        """The GA Realtime function tool (flat: not nested under 'function')."""
        return {"type": "function", "name": self.name, "description": self.description,
                "parameters": self.parameters}


class Tool(Protocol):
    @property
    def spec(self) -> ToolSpec: ...

    async def call(self, arguments: dict[str, Any]) -> Any:
        """Run with already-parsed arguments. Return JSON-serialisable data; raise ToolError with a
        message for the model when the call cannot be done."""
        ...


ArgumentValidator = Callable[[Mapping[str, Any], Mapping[str, Any]], list[str]]
"""(parameters schema, parsed arguments) -> problems written for the model; see speaker.tools.schema."""


@dataclass
class ToolOutcome:
    name: str
    ok: bool
    output: str
    """JSON string sent back to the model."""
    seconds: float


class ToolRegistry:
    """Holds the tools the model may call. Names are unique."""

    def __init__(self, *, timeout_s: float = 8.0, validate: ArgumentValidator | None = None) -> None:
        self._tools: dict[str, Tool] = {}
        self._timeout_s = timeout_s
        self._validate = validate

    def add(self, tool: Tool) -> None:
        name = tool.spec.name
        if name in self._tools:
            raise ValueError(f"two tools are named {name!r}")
        self._tools[name] = tool

    def extend(self, tools: Iterable[Tool]) -> None:
        for tool in tools:
            self.add(tool)

    def remove_prefix(self, prefix: str) -> None:
        for name in [n for n in self._tools if n.startswith(prefix)]:
            del self._tools[name]

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def specs(self) -> list[ToolSpec]:
        return [t.spec for t in self._tools.values()]

    async def execute(self, name: str, arguments: str) -> ToolOutcome:
        """Parse, validate, run with a timeout. Never raises (except cancellation)."""
        started = time.monotonic()
        ok, output = await self._execute(name, arguments)
        seconds = time.monotonic() - started
        log.info("tool %s(%s) %s in %.3f s: %s", name, loggable_arguments(arguments),
                 "ok" if ok else "refused/failed", seconds, _clip(output, 300))
        return ToolOutcome(name=name, ok=ok, output=output, seconds=seconds)

    async def _execute(self, name: str, arguments: str) -> tuple[bool, str]:
        tool = self._tools.get(name)
        if tool is None:
            return False, _error(f"There is no tool named {name!r}. Available tools: "
                                 f"{', '.join(sorted(self._tools)) or 'none'}.")
        if len(arguments) > MAX_ARGUMENTS_CHARS:
            return False, _error(f"The arguments are {len(arguments)} characters long; "
                                 f"at most {MAX_ARGUMENTS_CHARS} are accepted.")
        try:
            parsed = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            return False, _error(f"The arguments are not valid JSON ({exc.msg} at character {exc.pos}). "
                                 "Send a JSON object matching the tool's parameters.")
        if not isinstance(parsed, dict):
            return False, _error("The arguments must be a JSON object.")
        if self._validate is not None:
            problems = self._validate(tool.spec.parameters, parsed)
            if problems:
                return False, _error("The arguments were refused: " + "; ".join(problems)
                                     + ". Nothing was done.")
        try:
            async with asyncio.timeout(self._timeout_s):
                result = await tool.call(parsed)
        except ToolError as exc:
            return False, _error(str(exc))
        except TimeoutError:
            return False, _error(f"The tool did not answer within {self._timeout_s:g} seconds; "
                                 "its outcome is unknown. Tell the user.")
        except Exception as exc:
            log.exception("tool %s crashed", name)
            return False, _error(f"The tool failed unexpectedly ({type(exc).__name__}). Tell the user.")
        try:
            return True, json.dumps(result if result is not None else {"ok": True}, ensure_ascii=False,
                                    default=str)
        except (TypeError, ValueError):
            return True, json.dumps({"result": str(result)}, ensure_ascii=False)


def _error(message: str) -> str:
    return json.dumps({"error": message}, ensure_ascii=False)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


_SECRET_KEY = re.compile(r"pass|secret|token|api[_-]?key|auth|credential|cookie", re.IGNORECASE)


def loggable_arguments(arguments: str, limit: int = 300) -> str:
    """Tool arguments as one log-safe line: values under secret-looking keys masked, clipped, and
    anything that is not JSON shown escaped (no raw newlines or control characters in the log)."""
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        return _clip("<not JSON> " + json.dumps(arguments[: limit * 2], ensure_ascii=True), limit)

    def mask(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: "***" if _SECRET_KEY.search(str(k)) else mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v) for v in value]
        if isinstance(value, str) and len(value) > 80:
            return value[:60] + f"…({len(value)} chars)"
        return value

    return _clip(json.dumps(mask(parsed), ensure_ascii=True, separators=(",", ":")), limit)
