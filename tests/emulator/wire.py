"""A bare WebSocket client for the emulator tests: raw JSON on a real loopback connection (the project's
own Realtime client is tested elsewhere; here nothing stands between the test and the wire)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from realtime_emulator import DEFAULT_KEY, Emulator
from realtime_emulator.voice import speech_for

MODEL = "gpt-realtime-2.1"
LOCAL_TURNS: dict[str, Any] = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
"""The daemon's set-up: our own VAD ends the turn, we commit and ask for the response."""


class Wire:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def send(self, type: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"type": type, **fields}))

    async def append(self, pcm: bytes, chunk_ms: int = 100) -> None:
        step = 48 * chunk_ms
        for i in range(0, len(pcm), step):
            await self.send("input_audio_buffer.append", audio=base64.b64encode(pcm[i:i + step]).decode())

    async def recv(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(await self.ws.recv())
        self.seen.append(event)
        return event

    async def until(self, type: str) -> list[dict[str, Any]]:
        """Events up to and including the next one of this type."""
        out = []
        while True:
            event = await self.recv()
            out.append(event)
            if event["type"] == type:
                return out


@asynccontextmanager
async def wire(emu: Emulator, *, session: dict[str, Any] | None = LOCAL_TURNS, model: str = MODEL,
               headers: dict[str, str] | None = None) -> AsyncIterator[Wire]:
    """Connect with the emulator's key, read session.created, and apply ``session`` (if any)."""
    async with connect(f"{emu.url}?model={model}", max_size=None,
                       additional_headers=headers or {"Authorization": f"Bearer {DEFAULT_KEY}"}) as ws:
        w = Wire(ws)
        if headers is None:
            assert (await w.recv())["type"] == "session.created"
        if session is not None:
            await w.send("session.update", session=session)
            assert (await w.until("session.updated"))[-1]["type"] == "session.updated"
        yield w


def types(events: list[dict[str, Any]]) -> list[str]:
    """Event types with runs of the same type collapsed (deltas), to compare lifecycles."""
    out: list[str] = []
    for event in events:
        if not out or out[-1] != event["type"]:
            out.append(event["type"])
    return out


def speech(text: str = "The kitchen light is on.", *, lead_s: float = 0.5, tail_s: float = 1.0) -> bytes:
    """Real espeak speech (a bundled emulator phrase) between stretches of quiet room noise (-60 dBFS)."""
    rng = np.random.default_rng(7)

    def quiet(seconds: float) -> bytes:
        return (rng.standard_normal(int(24000 * seconds)) * 33).astype("<i2").tobytes()

    return quiet(lead_s) + speech_for(text) + quiet(tail_s)


def silence(seconds: float) -> bytes:
    return bytes(2 * int(24000 * seconds))
