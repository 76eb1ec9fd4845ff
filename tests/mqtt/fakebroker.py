"""A scripted MQTT 3.1.1 server that misbehaves on purpose: it accepts the connection and the
availability message, then never acknowledges (or drops the connection on) any other PUBLISH.
Mosquitto always acknowledges at once, so only this can show that publish really waits for PUBACK."""

from __future__ import annotations

import asyncio
from typing import Literal

Mode = Literal["no_puback", "drop_on_publish"]


class FakeBroker:
    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.unacknowledged: list[str] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> FakeBroker:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                first = (await reader.readexactly(1))[0]
                length, shift = 0, 0
                while True:
                    byte = (await reader.readexactly(1))[0]
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                body = await reader.readexactly(length)
                kind = first >> 4
                if kind == 1:  # CONNECT -> CONNACK accepted
                    writer.write(b"\x20\x02\x00\x00")
                elif kind == 3:  # PUBLISH
                    qos = (first >> 1) & 3
                    n = int.from_bytes(body[:2], "big")
                    topic = body[2:2 + n].decode()
                    packet_id = body[2 + n:4 + n]
                    if topic.endswith("/availability"):
                        if qos:
                            writer.write(b"\x40\x02" + packet_id)
                    elif self.mode == "drop_on_publish":
                        writer.close()
                        return
                    else:
                        self.unacknowledged.append(topic)
                elif kind == 8:  # SUBSCRIBE -> SUBACK granting QoS 0 to each filter
                    packet_id, rest, count = body[:2], body[2:], 0
                    while rest:
                        n = int.from_bytes(rest[:2], "big")
                        rest = rest[3 + n:]
                        count += 1
                    writer.write(bytes([0x90, 2 + count]) + packet_id + b"\x00" * count)
                elif kind == 12:  # PINGREQ
                    writer.write(b"\xd0\x00")
                elif kind == 14:  # DISCONNECT
                    writer.close()
                    return
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
