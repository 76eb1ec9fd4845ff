"""A small smart-home MCP server for the bridge tests, run as a real subprocess.

    python -m tests.mcp.server_app stdio
    python -m tests.mcp.server_app http PORT [--token TOKEN]

Over HTTP the endpoint is ``http://127.0.0.1:PORT/mcp``; with ``--token`` every request must carry
``Authorization: Bearer TOKEN`` (like Home Assistant's MCP server with a long-lived access token),
otherwise the server answers 401.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

server = MCPServer("room-speaker-test-home", instructions="A pretend house for the room speaker's tests.")


class LightState(BaseModel):
    """One light in a scene."""

    room: str
    brightness: int = Field(default=100, ge=0, le=100, description="Percent")


class Scene(BaseModel):
    name: str
    lights: list[LightState]
    mood: Literal["calm", "party"] = "calm"


@server.tool()
def set_light(room: str, on: bool, brightness: int = 100) -> dict[str, Any]:
    """Switch a light in a room on or off."""
    return {"room": room, "on": on, "brightness": brightness}


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def fail(reason: str = "the kettle is unplugged") -> str:
    """Always fails, with the given reason (ToolError: the SDK passes its message to the client)."""
    raise ToolError(reason)


@server.tool()
def apply_scene(scene: Scene) -> str:
    """Apply a lighting scene (a nested model: its schema uses $defs and $ref)."""
    rooms = ", ".join(light.room for light in scene.lights)
    return f"scene {scene.name} ({scene.mood}) applied to {rooms}"


@server.tool()
def set_heating(room: str, target: Annotated[float, Field(ge=5, le=30)] | Literal["off"]) -> str:
    """Set a room's thermostat to a temperature in °C, or "off" (a union: its schema uses anyOf)."""
    return f"{room} heating {target}"


@server.tool(name="lights.count")
def lights_count() -> str:
    """How many lights are on (a tool name with a dot, which function names may not contain)."""
    return "3 lights are on"


@server.tool()
async def slow(seconds: float) -> str:
    """Answer after the given number of seconds."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@server.tool()
def whoami() -> str:
    """The value of the TEST_SPEAKER_ROOM environment variable (stdio env passing)."""
    return os.environ.get("TEST_SPEAKER_ROOM", "<unset>")


def _require_bearer(app: Any, token: str) -> Any:
    """Wrap an ASGI app so HTTP requests without the right bearer token get 401."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization") != expected:
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await app(scope, receive, send)

    return guarded


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("port", type=int, nargs="?", default=0)
    parser.add_argument("--token")
    parser.add_argument("--tag", help="ignored: lets a test find this process by its command line")
    args = parser.parse_args(argv)
    if args.transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    app = server.streamable_http_app(host="127.0.0.1")
    if args.token:
        app = _require_bearer(app, args.token)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
