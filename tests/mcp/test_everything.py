"""Third-party interop: the reference ``@modelcontextprotocol/server-everything`` (Node, from npm)
bridged over stdio. Skipped, with the reason, when node/npm or the npm registry is not available."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from speaker.config.schema import McpSettings
from speaker.errors import ToolError
from speaker.mcp.bridge import McpBridge
from speaker.tools.base import ToolRegistry
from tests.mcp.support import bounded


async def test_echo_and_get_sum_through_the_bridge(everything_js: Path) -> None:
    settings = McpSettings.model_validate({"bridged": [
        {"label": "everything", "command": ["node", str(everything_js), "stdio"],
         "allowed_tools": ["echo", "get-sum", "get-structured-content", "get-tiny-image"]},
    ]})
    async with McpBridge(settings) as bridge:
        assert await bridge.wait_ready(20)
        status = bridge.status()[0]
        assert status.up, status.error
        tools = {tool.spec.name: tool for tool in bridge.tools()}
        assert sorted(tools) == ["everything__echo", "everything__get-structured-content",
                                 "everything__get-sum", "everything__get-tiny-image"]
        # zod-generated draft-07 schemas: $schema is dropped, the rest kept
        assert tools["everything__get-sum"].spec.parameters == {
            "type": "object",
            "properties": {"a": {"type": "number", "description": "First number"},
                           "b": {"type": "number", "description": "Second number"}},
            "required": ["a", "b"],
        }
        registry = ToolRegistry(timeout_s=10)
        registry.extend(bridge.tools())
        started = time.monotonic()
        echo = await bounded(registry.execute("everything__echo", '{"message": "hello"}'))
        call_s = time.monotonic() - started
        assert echo.ok and json.loads(echo.output) == {"text": "Echo: hello"}
        total = await bounded(registry.execute("everything__get-sum", '{"a": 2, "b": 3}'))
        assert total.ok and json.loads(total.output) == {"text": "The sum of 2 and 3 is 5."}
        weather = await bounded(tools["everything__get-structured-content"].call({"location": "Chicago"}))
        assert set(weather["structured_content"]) >= {"temperature", "conditions", "humidity"}
        assert "text" not in weather  # the text is the same JSON: not sent twice
        image = await bounded(tools["everything__get-tiny-image"].call({}))
        assert "[image (image/png) left out: the speaker cannot use it]" in image["text"]
        with pytest.raises(ToolError, match="everything"):
            await bounded(tools["everything__get-sum"].call({"a": "two"}))
    print(f"server-everything (node) start+connect+list {status.connect_seconds:.3f} s, "
          f"echo {call_s * 1000:.1f} ms")
