"""The Realtime emulator in a thread with its own event loop, for tests that run the CLI or the daemon
in another process or another loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from realtime_emulator import Emulator, Script


class ThreadedEmulator:
    def __init__(self, emulator: Emulator, loop: asyncio.AbstractEventLoop) -> None:
        self.emulator = emulator
        self._loop = loop

    @property
    def url(self) -> str:
        return self.emulator.url

    def call(self, fn: object) -> object:
        """Run ``fn()`` in the emulator's loop and return its result (to read the record safely)."""
        async def run() -> object:
            return fn()  # type: ignore[operator]

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)


@contextmanager
def emulator_in_thread(script: Script | None = None, *, api_key: str = "sk-emulator",
                       speed: float = 4.0) -> Iterator[ThreadedEmulator]:
    ready = threading.Event()
    state: dict[str, object] = {}
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        stop = asyncio.Event()
        state["stop"] = stop
        async with Emulator(script, api_key=api_key, speed=speed) as emu:
            state["emu"] = emu
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True, name="emulator")
    thread.start()
    if not ready.wait(10):
        raise TimeoutError("the emulator did not start")
    try:
        yield ThreadedEmulator(state["emu"], loop)  # type: ignore[arg-type]
    finally:
        stop = state["stop"]
        loop.call_soon_threadsafe(stop.set)  # type: ignore[attr-defined]
        thread.join(10)
