"""What the emulator saw and did, for tests and benchmarks to read and wait on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from realtime_emulator.validate import ValidationFailure

Direction = Literal["received", "sent"]


@dataclass
class ConnectionStats:
    """One accepted WebSocket connection. Times are ``time.monotonic()``."""

    index: int
    path: str
    model: str | None
    connected_at: float
    first_append_at: float | None = None
    """When the first ``input_audio_buffer.append`` arrived (time to first audio)."""
    append_seconds: float = 0.0
    """Input audio appended on this connection, in seconds of audio."""
    close_code: int | None = None
    """How it ended: the close code (1006 when the TCP connection just went away); None while open."""
    close_reason: str = ""
    closed_at: float | None = None


@dataclass(frozen=True)
class Logged:
    t: float
    connection: int
    direction: Direction
    event: dict[str, Any]


@dataclass(frozen=True)
class Injected:
    """One deliberately invalid frame a fault sent (raw text, maybe not even JSON)."""

    t: float
    connection: int
    text: str


@dataclass
class Recorder:
    """The record: every valid client event received, every event sent, every validation failure, and
    per-connection statistics. ``wait_*`` methods let a test wait for any of it, bounded."""

    received: list[dict[str, Any]] = field(default_factory=list)
    """Validated client events, in arrival order, over all connections."""
    sent: list[dict[str, Any]] = field(default_factory=list)
    log: list[Logged] = field(default_factory=list)
    violations: list[ValidationFailure] = field(default_factory=list)
    """Every validation failure, client events and (a bug) the emulator's own; tests assert it is empty."""
    warnings: list[str] = field(default_factory=list)
    """Script mistakes a real model would not make (e.g. calling a function the session does not offer)."""
    stats: list[ConnectionStats] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    """HTTP statuses of refused handshakes (401 bad key, 404 path, 400 no model)."""
    injected: list[Injected] = field(default_factory=list)
    """Frames a ``garbage`` fault sent on purpose, unvalidated (they are not in ``sent`` or ``log``)."""
    _tick: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def connections(self) -> int:
        return len(self.stats)

    @property
    def closed_codes(self) -> list[int | None]:
        return [s.close_code for s in self.stats]

    @property
    def append_seconds(self) -> list[float]:
        return [s.append_seconds for s in self.stats]

    @property
    def first_append_at(self) -> list[float | None]:
        return [s.first_append_at for s in self.stats]

    def events(self, type: str, *, sent: bool = False, connection: int | None = None) -> list[dict[str, Any]]:
        """Logged events of one type (received by default), optionally of one connection."""
        direction = "sent" if sent else "received"
        return [x.event for x in self.log if x.direction == direction and x.event.get("type") == type
                and (connection is None or x.connection == connection)]

    def times(self, type: str, *, sent: bool = False, connection: int | None = None) -> list[float]:
        """Monotonic times of those events (for latency measurements)."""
        direction = "sent" if sent else "received"
        return [x.t for x in self.log if x.direction == direction and x.event.get("type") == type
                and (connection is None or x.connection == connection)]

    # ----------------------------------------------------------------- recording

    def note(self, connection: int, direction: Direction, event: dict[str, Any]) -> None:
        t = time.monotonic()
        self.log.append(Logged(t, connection, direction, event))
        (self.sent if direction == "sent" else self.received).append(event)
        if direction == "received" and event.get("type") == "input_audio_buffer.append":
            stats = self.stats[connection]
            if stats.first_append_at is None:
                stats.first_append_at = t
        self.changed()

    def note_injected(self, connection: int, text: str) -> None:
        self.injected.append(Injected(time.monotonic(), connection, text))
        self.changed()

    def changed(self) -> None:
        self._tick.set()
        self._tick = asyncio.Event()

    # ----------------------------------------------------------------- waiting
    # These take `timeout` (ASYNC109) on purpose: every wait is bounded by default and a timeout names
    # what the emulator did not see, which beats a bare TimeoutError from an outer asyncio.timeout.

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Return once ``predicate()`` holds (checked after every recorded change); TimeoutError after
        ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._tick.wait()

    async def wait_for(self, type: str, *, timeout: float = 5.0, count: int = 1, sent: bool = False,  # noqa: ASYNC109
                       connection: int | None = None) -> dict[str, Any]:
        """The ``count``-th event of this type (received from clients by default, or sent), waiting
        for it if it has not happened yet."""
        try:
            await self.wait_until(lambda: len(self.events(type, sent=sent, connection=connection)) >= count,
                                  timeout)
        except TimeoutError:
            seen = len(self.events(type, sent=sent, connection=connection))
            raise TimeoutError(f"emulator: no {'sent' if sent else 'received'} {type!r} #{count} within "
                               f"{timeout} s (saw {seen})") from None
        return self.events(type, sent=sent, connection=connection)[count - 1]

    async def wait_connections(self, n: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await self.wait_until(lambda: self.connections >= n, timeout)

    async def wait_closed(self, connection: int = -1, timeout: float = 5.0) -> int | None:  # noqa: ASYNC109
        """Wait until that connection (default: the latest) ended; return its close code."""
        await self.wait_until(lambda: bool(self.stats) and self.stats[connection].closed_at is not None, timeout)
        return self.stats[connection].close_code
