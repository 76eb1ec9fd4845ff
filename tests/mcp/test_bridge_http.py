"""The bridge against the test MCP server as a real subprocess over streamable HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from speaker.config.schema import McpSettings
from speaker.errors import ToolError
from speaker.mcp.bridge import BridgedTool, McpBridge
from speaker.tools.base import Tool, ToolRegistry
from speaker.tools.schema import validate_arguments
from tests.helpers.ports import free_port
from tests.mcp.support import HttpServer, bounded, eventually

TOKEN = "llat-SECRET-token-1234567890"


def bridged(url: str, **extra: Any) -> McpSettings:
    return McpSettings.model_validate({"bridged": [{"label": "home", "url": url, **extra}]})


def by_name(bridge: McpBridge) -> dict[str, Tool]:
    return {tool.spec.name: tool for tool in bridge.tools()}


async def test_tools_appear_as_functions_with_adapted_schemas(shared_http_server: HttpServer) -> None:
    changes: list[int] = []
    async with McpBridge(bridged(shared_http_server.url), on_change=lambda: changes.append(1)) as bridge:
        assert await bridge.wait_ready(10)
        tools = by_name(bridge)
    assert sorted(tools) == ["home__add", "home__apply_scene", "home__fail", "home__lights_count",
                             "home__set_heating", "home__set_light", "home__slow", "home__whoami"]
    assert changes and bridge.version >= 1
    light = tools["home__set_light"].spec
    assert light.description == "Switch a light in a room on or off."
    assert light.parameters == {
        "type": "object",
        "properties": {"room": {"type": "string"}, "on": {"type": "boolean"},
                       "brightness": {"default": 100, "type": "integer"}},
        "required": ["room", "on"],
    }
    scene = json.dumps(tools["home__apply_scene"].spec.parameters)
    assert "$ref" not in scene and "$defs" not in scene and '"title"' not in scene
    assert tools["home__apply_scene"].spec.parameters["properties"]["scene"]["properties"]["mood"] == {
        "default": "calm", "enum": ["calm", "party"], "type": "string"}
    lights_count = tools["home__lights_count"]
    assert isinstance(lights_count, BridgedTool) and lights_count.mcp_name == "lights.count"


async def test_function_specs_are_valid_realtime_tools(shared_http_server: HttpServer) -> None:
    validate = pytest.importorskip("realtime_emulator.validate")
    async with McpBridge(bridged(shared_http_server.url)) as bridge:
        assert await bridge.wait_ready(10)
        specs = [tool.spec.to_realtime() for tool in bridge.tools()]
    validate.validate_session_update({"type": "realtime", "tools": specs})


async def test_calls_return_text_and_structured_content(shared_http_server: HttpServer) -> None:
    async with McpBridge(bridged(shared_http_server.url)) as bridge:
        assert await bridge.wait_ready(10)
        tools = by_name(bridge)
        started = time.monotonic()
        assert await bounded(tools["home__add"].call({"a": 2, "b": 3})) == {
            "structured_content": {"result": 5}, "text": "5"}
        call_s = time.monotonic() - started
        # a dict result: the text is the same JSON, so only the structured content goes back
        assert await bounded(tools["home__set_light"].call({"room": "kitchen", "on": True})) == {
            "structured_content": {"room": "kitchen", "on": True, "brightness": 100}}
        assert await bounded(tools["home__lights_count"].call({})) == {
            "structured_content": {"result": "3 lights are on"}, "text": "3 lights are on"}
        scene = {"name": "evening", "lights": [{"room": "hall"}, {"room": "den", "brightness": 20}]}
        out = await bounded(tools["home__apply_scene"].call({"scene": scene}))
        assert out["text"] == "scene evening (calm) applied to hall, den"
    status = bridge.status()[0]
    assert status.connect_seconds is not None
    print(f"HTTP connect+list {status.connect_seconds:.3f} s, one call {call_s * 1000:.1f} ms")


async def test_errors_become_tool_errors_written_for_the_model(shared_http_server: HttpServer) -> None:
    async with McpBridge(bridged(shared_http_server.url)) as bridge:
        assert await bridge.wait_ready(10)
        registry = ToolRegistry(timeout_s=5)
        registry.extend(bridge.tools())
        failed = await bounded(registry.execute("home__fail", json.dumps({"reason": "the kettle is unplugged"})))
        assert not failed.ok
        assert json.loads(failed.output) == {
            "error": "home tool fail failed: Error executing tool fail: the kettle is unplugged"}
        with pytest.raises(ToolError, match="validation error"):
            await bounded(by_name(bridge)["home__set_light"].call({"room": "hall", "on": "maybe"}))
        ok = await bounded(registry.execute("home__add", '{"a": 40, "b": 2}'))
        assert ok.ok and json.loads(ok.output)["structured_content"] == {"result": 42}


@pytest.mark.parametrize("tool, arguments, refusal", [
    ("home__set_heating", {"room": "den", "target": 40}, "target must be between 5 and 30; you sent 40"),
    ("home__set_heating", {"room": "den", "target": "warm"}, 'target must be "off"; you sent "warm"'),
    ("home__set_heating", {"room": "den", "target": True}, "target must be a number or \"off\"; you sent true"),
    ("home__apply_scene", {"scene": {"name": "eve", "lights": [{"room": "hall", "brightness": 120}]}},
     "scene.lights[0].brightness must be between 0 and 100; you sent 120"),
    ("home__apply_scene", {"scene": {"name": "eve", "lights": [{}], "mood": "wild"}},
     "scene.lights[0].room is required but missing"),
    ("home__apply_scene", {"scene": {"name": "eve", "lights": [], "mood": "wild"}},
     'scene.mood must be one of "calm", "party"; you sent "wild"'),
])
async def test_bridged_anyof_and_ref_schemas_refuse_bad_arguments_before_the_server(
        shared_http_server: HttpServer, tool: str, arguments: dict[str, Any], refusal: str) -> None:
    async with McpBridge(bridged(shared_http_server.url)) as bridge:
        assert await bridge.wait_ready(10)
        registry = ToolRegistry(timeout_s=5, validate=validate_arguments)
        registry.extend(bridge.tools())
        refused = await bounded(registry.execute(tool, json.dumps(arguments)))
        assert not refused.ok
        error = json.loads(refused.output)["error"]
        assert error.startswith("The arguments were refused: ") and refusal in error, error


async def test_bridged_anyof_and_ref_schemas_accept_what_the_server_accepts(shared_http_server: HttpServer) -> None:
    async with McpBridge(bridged(shared_http_server.url)) as bridge:
        assert await bridge.wait_ready(10)
        registry = ToolRegistry(timeout_s=5, validate=validate_arguments)
        registry.extend(bridge.tools())
        for target, said in ((21.5, "den heating 21.5"), ("off", "den heating off"), (5, "den heating 5.0")):
            done = await bounded(registry.execute("home__set_heating", json.dumps({"room": "den", "target": target})))
            assert done.ok and json.loads(done.output)["text"] == said, done.output
        scene = {"name": "eve", "lights": [{"room": "hall"}, {"room": "den", "brightness": 20}], "mood": "party"}
        done = await bounded(registry.execute("home__apply_scene", json.dumps({"scene": scene})))
        assert done.ok and json.loads(done.output)["text"] == "scene eve (party) applied to hall, den"


async def test_a_slow_call_times_out_with_the_server_timeout(shared_http_server: HttpServer) -> None:
    async with McpBridge(bridged(shared_http_server.url, timeout_s=0.5)) as bridge:
        assert await bridge.wait_ready(10)
        # the bridge's own 0.5 s timeout answered (the message says so), not the 5 s tool finishing
        with pytest.raises(ToolError, match=r"did not answer within 0.5 seconds; whether 'slow' was done"):
            await bounded(by_name(bridge)["home__slow"].call({"seconds": 5}))
        # the connection is still fine afterwards
        assert (await bounded(by_name(bridge)["home__add"].call({"a": 1, "b": 1})))["text"] == "2"


async def test_allowed_tools_filter_and_warn_about_missing_ones(shared_http_server: HttpServer,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="speaker.mcp")
    async with McpBridge(bridged(shared_http_server.url, allowed_tools=["add", "set_light", "nope"])) as bridge:
        assert await bridge.wait_ready(10)
        assert sorted(by_name(bridge)) == ["home__add", "home__set_light"]
    assert "does not offer allowed_tools nope" in caplog.text


async def test_bearer_token_is_sent_and_never_logged(http_server: Callable[..., HttpServer],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = http_server(token=TOKEN)
    monkeypatch.setenv("HA_TOKEN", TOKEN)
    settings = McpSettings.model_validate({"bridged": [
        {"label": "ha", "url": server.url, "token": {"env": "HA_TOKEN"}},
        {"label": "anon", "url": server.url},
    ]})
    async with McpBridge(settings) as bridge:
        assert await bridge.wait_ready(10)
        assert "ha__add" in by_name(bridge)
        assert (await bounded(by_name(bridge)["ha__add"].call({"a": 1, "b": 2})))["text"] == "3"
        anon = bridge.status()[1]
        assert not anon.up and anon.error is not None and anon.error.startswith("HTTP 401")
    assert "bridged MCP server anon" in caplog.text and "HTTP 401: the server refused us" in caplog.text
    assert TOKEN not in caplog.text
    assert all(TOKEN not in str(s) for s in bridge.status())


async def test_missing_token_secret_is_a_clear_line(shared_http_server: HttpServer,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="speaker.mcp")
    async with McpBridge(bridged(shared_http_server.url, token={"env": "SPEAKER_TEST_UNSET_TOKEN"})) as bridge:
        assert await bridge.wait_ready(10)
        assert bridge.tools() == []
    assert "environment variable SPEAKER_TEST_UNSET_TOKEN is not set" in caplog.text


def _warnings_about(caplog: pytest.LogCaptureFixture, label: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and f"server {label} " in r.getMessage()]


async def test_dead_port_is_left_out_retried_and_picked_up_when_started(
        http_server: Callable[..., HttpServer], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="speaker.mcp")
    server = http_server(start=False)  # a free port with nothing listening
    versions: list[int] = []
    bridge = McpBridge(bridged(server.url, retry_s=0.2), on_change=lambda: versions.append(bridge.version))
    async with bridge:
        assert await bridge.wait_ready(5)
        assert bridge.tools() == [] and bridge.version == 0
        status = bridge.status()[0]
        assert not status.up and status.error is not None and "cannot connect" in status.error
        await eventually(lambda: sum("still not reachable" in r.getMessage() for r in caplog.records) >= 2, 5)
        assert len(_warnings_about(caplog, "home")) == 1, "one clear line, not one per retry"
        server.start()
        await eventually(lambda: bool(bridge.tools()), 10)
        assert "home__add" in by_name(bridge)
        assert versions == [1]
        assert (await bounded(by_name(bridge)["home__add"].call({"a": 2, "b": 2})))["text"] == "4"


async def test_a_killed_server_goes_away_and_comes_back(http_server: Callable[..., HttpServer],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="speaker.mcp")
    server = http_server()
    async with McpBridge(bridged(server.url, retry_s=0.2)) as bridge:
        assert await bridge.wait_ready(10)
        add = by_name(bridge)["home__add"]
        version = bridge.version
        server.kill()
        with pytest.raises(ToolError, match="home MCP server is not reachable right now"):
            await bounded(add.call({"a": 1, "b": 1}))
        await eventually(lambda: bridge.tools() == [], 5)
        assert bridge.version > version
        assert any("went away" in m for m in _warnings_about(caplog, "home"))
        with pytest.raises(ToolError, match="not reachable right now"):
            await bounded(add.call({"a": 1, "b": 1}))  # the old tool object, while the server is down
        server.start()
        await eventually(lambda: bool(bridge.tools()), 10)
        # the tool object the current session holds works again, too
        assert (await bounded(add.call({"a": 1, "b": 1})))["text"] == "2"


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


async def test_a_server_that_never_answers_times_out_without_blocking(black_hole: int) -> None:
    # the next retry is an hour away: leaving the bridge must cancel it, not wait for it (bound: 60 s)
    settings = bridged(f"http://127.0.0.1:{black_hole}/mcp", timeout_s=0.4, retry_s=3600)
    async with asyncio.timeout(60), McpBridge(settings) as bridge:
        assert await bridge.wait_ready(30)
        assert bridge.status()[0].error == "no answer within 0.4 s"


async def test_no_bridged_servers_is_fine() -> None:
    async with McpBridge(McpSettings()) as bridge:
        assert await bridge.wait_ready(0.1)
        assert bridge.tools() == [] and bridge.status() == []


async def test_unknown_port_closed_immediately() -> None:
    """Leaving the bridge while a server is being retried is quick (tasks cancelled and awaited)."""
    settings = bridged(f"http://127.0.0.1:{free_port()}/mcp", retry_s=3600)
    async with asyncio.timeout(60), McpBridge(settings) as bridge:  # a retry an hour away must not hold the exit
        assert await bridge.wait_ready(30)
