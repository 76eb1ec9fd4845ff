"""Blocking file edges (FIFOs, stdin/stdout) run in a daemon thread each.

Opening a FIFO blocks until the other end opens it, and reading or writing it blocks for as long as
the other side likes. That must not stall the event loop, so, like a sound card callback, one thread
does the blocking calls and hands results to the loop with ``call_soon_threadsafe``.

Why a dedicated daemon thread and not ``asyncio.to_thread``: a read on a FIFO whose writer never
writes never returns, and ``asyncio.run`` joins the default executor's threads at exit, so one stuck
read would hang the daemon's shutdown. A daemon thread is simply abandoned at exit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Generic, TypeVar

T = TypeVar("T")

STDIO = Path("-")
"""The path that means stdin (for a source) or stdout (for a sink)."""


def is_stream_path(path: Path) -> bool:
    """True for stdin/stdout ('-'), a FIFO or a character device: things that block and cannot seek."""
    if path == STDIO:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def open_for_reading(path: Path) -> BinaryIO:
    """Blocking open (a FIFO waits for its writer). '-' is stdin, which is never closed by us."""
    if path == STDIO:
        return os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    return open(path, "rb")


def open_for_writing(path: Path) -> BinaryIO:
    """Blocking open (a FIFO waits for its reader). '-' is stdout."""
    if path == STDIO:
        return os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    return open(path, "wb", buffering=0)


class _End:
    pass


_END = _End()


class ThreadedReader(Generic[T]):
    """Run ``produce`` (a blocking generator-like callable) in a daemon thread.

    ``produce(emit)`` calls ``emit(item)`` for each item; ``emit`` blocks the thread while ``depth``
    items wait unread, which bounds memory and passes back-pressure to the writer of the FIFO. An
    exception raised by ``produce`` is re-raised by ``get``. ``get`` returns None at the end."""

    def __init__(self, produce: Callable[[Callable[[T], None]], None], *, name: str, depth: int = 8) -> None:
        self._produce = produce
        self._name = name
        self._slots = threading.Semaphore(depth)
        self._stopping = threading.Event()
        self._items: asyncio.Queue[T | BaseException | _End] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop. A thread blocked inside a read is abandoned (it is a daemon)."""
        self._stopping.set()
        self._slots.release()

    async def get(self) -> T | None:
        item = await self._items.get()
        if isinstance(item, _End):
            self._items.put_nowait(item)  # stay at the end for later calls
            return None
        if isinstance(item, BaseException):
            raise item
        self._slots.release()
        return item

    def _run(self) -> None:
        try:
            self._produce(self._emit)
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the loop, re-raised there by get()
            self._post(exc)
        self._post(_END)

    def _emit(self, item: T) -> None:
        self._slots.acquire()
        if self._stopping.is_set():
            raise _Stopped
        self._post(item)

    def _post(self, item: T | BaseException | _End) -> None:
        assert self._loop is not None
        # the loop may already be closed when an abandoned thread wakes up at exit
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._items.put_nowait, item)


class _Stopped(Exception):
    pass


class ThreadedWriter:
    """Write bytes to a FIFO/stdout from a daemon thread; ``write`` never blocks the loop."""

    def __init__(self, path: Path, *, name: str, header: bytes = b"") -> None:
        self._path = path
        self._header = header
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._failed = threading.Event()
        self._finished = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.error: OSError | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    def write(self, data: bytes) -> None:
        if data and not self._failed.is_set():  # after an error nobody would take it
            self._queue.put(data)

    async def close(self, grace_s: float = 2.0) -> None:
        """Finish writing what is queued, waiting at most ``grace_s`` (the reader may be gone)."""
        self._queue.put(None)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                await self._finished.wait()

    def _run(self) -> None:
        try:
            with open_for_writing(self._path) as f:
                if self._header:
                    f.write(self._header)
                while (data := self._queue.get()) is not None:
                    f.write(data)
        except OSError as exc:  # reader closed the FIFO (EPIPE) or the path is unusable
            self.error = exc
            self._failed.set()
        finally:
            assert self._loop is not None
            with contextlib.suppress(RuntimeError):  # loop already closed at exit
                self._loop.call_soon_threadsafe(self._finished.set)
