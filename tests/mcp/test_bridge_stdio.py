"""The bridge against the test MCP server as a local stdio program, and against broken commands."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from speaker.config.schema import McpSettings
from speaker.errors import ToolError
from speaker.mcp.bridge import McpBridge
from speaker.tools.base import Tool
from tests.mcp.support import SERVER_APP, bounded, eventually, kill_children, stdio_command


def by_name(bridge: McpBridge) -> dict[str, Tool]:
    return {tool.spec.name: tool for tool in bridge.tools()}


def settings(*servers: dict[str, Any]) -> McpSettings:
    return McpSettings.model_validate({"bridged": list(servers)})


async def test_stdio_server_tools_calls_and_env(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    room_file = tmp_path / "room"
    room_file.write_text("kitchen-SECRET\n")
    s = settings({"label": "local", "command": stdio_command(),
                  "env": {"TEST_SPEAKER_ROOM": {"file": str(room_file)}, "PLAIN": "value"}})
    async with McpBridge(s) as bridge:
        assert await bridge.wait_ready(15)
        tools = by_name(bridge)
        assert "local__set_light" in tools and "local__lights_count" in tools
        assert tools["local__add"].spec.parameters["required"] == ["a", "b"]
        started = time.monotonic()
        assert (await bounded(tools["local__add"].call({"a": 20, "b": 22})))["structured_content"] == {"result": 42}
        call_s = time.monotonic() - started
        # an env value from a secret reaches the program (and not the logs)
        assert (await bounded(tools["local__whoami"].call({})))["text"] == "kitchen-SECRET"
        with pytest.raises(ToolError, match=r"local tool fail failed: .*the fuse blew"):
            await bounded(tools["local__fail"].call({"reason": "the fuse blew"}))
        status = bridge.status()[0]
        assert status.up and status.transport == "stdio"
    assert status.connect_seconds is not None
    print(f"stdio (python) start+connect+list {status.connect_seconds:.3f} s, one call {call_s * 1000:.1f} ms")
    assert "bridged MCP server local" in caplog.text and "connected in" in caplog.text
    assert "kitchen-SECRET" not in caplog.text
    assert kill_children(str(SERVER_APP)) == 0, "the stdio program was stopped on exit"


async def test_bad_commands_are_left_out_with_a_clear_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="speaker.mcp")
    s = settings(
        {"label": "missing", "command": ["/nonexistent/mcp-server", "--stdio"]},
        {"label": "quitter", "command": [sys.executable, "-c", "import sys; sys.exit(3)"], "retry_s": 30},
        {"label": "nosecret", "command": stdio_command(), "env": {"TOKEN": {"env": "SPEAKER_TEST_UNSET_VAR"}}},
        {"label": "local", "command": stdio_command()},
    )
    async with McpBridge(s) as bridge:
        assert await bridge.wait_ready(15)
        assert {t.spec.name.split("__")[0] for t in bridge.tools()} == {"local"}
        missing, quitter, nosecret, local = bridge.status()
    assert local.up
    assert missing.error == "command not found: /nonexistent/mcp-server"
    assert quitter.error is not None and "the program exited" in quitter.error
    assert nosecret.error == "environment variable SPEAKER_TEST_UNSET_VAR is not set"
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert ("bridged MCP server missing (/nonexistent/mcp-server --stdio) is not reachable: command not found: "
            "/nonexistent/mcp-server; its tools are left out, retrying every 60 s") in lines
    assert sum("server quitter" in line for line in lines) == 1


async def test_a_killed_stdio_program_is_noticed_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="speaker.mcp")
    marker = "speaker-test-kill-me"
    s = settings({"label": "local", "command": [*stdio_command(), f"--tag={marker}"], "retry_s": 0.3})
    async with McpBridge(s) as bridge:
        assert await bridge.wait_ready(15)
        add = by_name(bridge)["local__add"]
        assert kill_children(marker) == 1
        # nobody calls: the health check (a tools/list every retry_s) notices
        await eventually(lambda: bridge.tools() == [], 5)
        assert "went away" in caplog.text
        with pytest.raises(ToolError, match="local MCP server is not reachable right now"):
            await bounded(add.call({"a": 1, "b": 2}))
        # and the program is started again
        await eventually(lambda: bool(bridge.tools()), 15)
        assert (await bounded(add.call({"a": 1, "b": 2})))["text"] == "3"
