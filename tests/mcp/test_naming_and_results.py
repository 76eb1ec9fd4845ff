"""Bridged tool names and what a tool result becomes for the model."""

from __future__ import annotations

import re

import mcp_types
import pytest

from speaker.errors import ToolError
from speaker.mcp.bridge import function_name, tool_output

VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def test_names_are_label_and_tool_sanitised() -> None:
    assert function_name("home", "HassTurnOn") == "home__HassTurnOn"
    assert function_name("home", "lights.count") == "home__lights_count"
    assert function_name("fs", "read file (utf-8)!") == "fs__read_file__utf-8__"
    assert function_name("x", "") == "x__tool"
    assert function_name("x", "ünïcode") == "x___n_code"


def test_long_and_colliding_names_stay_valid_and_unique() -> None:
    label = "a" * 32
    long = function_name(label, "b" * 100)
    assert len(long) == 64 and VALID.match(long)
    taken = {long}
    second = function_name(label, "b" * 99 + "c", taken)
    assert second != long and len(second) == 64 and second.endswith("_2") and VALID.match(second)
    taken.add(second)
    assert function_name(label, "b" * 98, taken).endswith("_3")
    assert function_name("home", "a.b", {"home__a_b"}) == "home__a_b_2"


def _result(*content: mcp_types.ContentBlock, structured: dict[str, object] | None = None,
            error: bool = False) -> mcp_types.CallToolResult:
    return mcp_types.CallToolResult(content=list(content), structured_content=structured, is_error=error)


def test_text_blocks_are_joined_and_other_content_is_named() -> None:
    out = tool_output(_result(
        mcp_types.TextContent(type="text", text="Kitchen: 21 °C"),
        mcp_types.ImageContent(type="image", data="AAAA", mime_type="image/png"),
        mcp_types.EmbeddedResource(type="resource", resource=mcp_types.TextResourceContents(
            uri="file:///notes.txt", text="buy milk")),
        mcp_types.EmbeddedResource(type="resource", resource=mcp_types.BlobResourceContents(
            uri="file:///a.bin", blob="AAAA")),
        mcp_types.ResourceLink(type="resource_link", name="manual", uri="https://example.com/manual.pdf"),
    ), server="home", tool="t")
    assert out == {"text": "Kitchen: 21 °C\n"
                           "[image (image/png) left out: the speaker cannot use it]\n"
                           "buy milk\n"
                           "[binary resource file:///a.bin left out]\n"
                           "[resource manual: https://example.com/manual.pdf]"}


def test_structured_content_and_empty_results() -> None:
    assert tool_output(_result(mcp_types.TextContent(type="text", text='{"on": true}'), structured={"on": True}),
                       server="h", tool="t") == {"structured_content": {"on": True}}
    assert tool_output(_result(mcp_types.TextContent(type="text", text="done"), structured={"on": True}),
                       server="h", tool="t") == {"structured_content": {"on": True}, "text": "done"}
    assert tool_output(_result(), server="h", tool="t") == {"ok": True}


def test_is_error_raises_a_tool_error_with_the_servers_message() -> None:
    with pytest.raises(ToolError, match=r"^home tool HassTurnOn failed: No entity named 'garage light'$"):
        tool_output(_result(mcp_types.TextContent(type="text", text="No entity named 'garage light'"), error=True),
                    server="home", tool="HassTurnOn")
    with pytest.raises(ToolError, match="no reason given"):
        tool_output(_result(error=True), server="home", tool="x")
