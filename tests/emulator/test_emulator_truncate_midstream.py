"""A barge-in truncates the assistant item while its audio is still streaming (cancel, then truncate)."""

from __future__ import annotations

import asyncio
import base64
import json

from websockets.asyncio.client import connect

from realtime_emulator import Emulator, Reply, Script, Turn

LONG = "a long answer " * 30


async def test_truncate_while_the_reply_is_still_streaming() -> None:
    async with Emulator(Script(turns=[Turn(reply=Reply(LONG))]), api_key="k", speed=1.0) as emu:
        async with asyncio.timeout(20), connect(emu.url + "?model=gpt-realtime-2.1",
                                                additional_headers={"Authorization": "Bearer k"}) as ws:
            await ws.send(json.dumps({"type": "session.update", "session": {
                "type": "realtime", "audio": {"input": {"turn_detection": None}}}}))
            await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                      "audio": base64.b64encode(b"\x10\x00" * 24000).decode()}))
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            await ws.send(json.dumps({"type": "response.create"}))
            item_id = None
            deltas = 0
            while deltas < 3:
                ev = json.loads(await ws.recv())
                if ev["type"] == "response.output_audio.delta":
                    item_id, deltas = ev["item_id"], deltas + 1
            await ws.send(json.dumps({"type": "response.cancel"}))
            await ws.send(json.dumps({"type": "conversation.item.truncate", "item_id": item_id,
                                      "content_index": 0, "audio_end_ms": 150}))
            seen = []
            while "conversation.item.truncated" not in seen and "error" not in seen:
                seen.append(json.loads(await ws.recv())["type"])
            assert "conversation.item.truncated" in seen and "error" not in seen
        assert emu.violations == []
