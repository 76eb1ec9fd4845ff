"""Blocking file edges (FIFOs, stdin/stdout) run in a daemon thread each.

Opening a FIFO blocks until the other end opens it, and reading or writing it blocks for as long as
the other side likes. That must not stall the event loop, so, like a sound card callback, one thread
does the blocking calls and hands results to the loop with ``call_soon_threadsafe``.

Why a dedicated daemon thread and not ``asyncio.to_thread``: a read on a FIFO whose writer never
writes never returns, and ``asyncio.run`` joins the default executor's threads at exit, so one stuck
read would hang the daemon's shutdown. A daemon thread is simply abandoned at exit."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import logging
import os
import stat
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

FIFO_POLL_S = 0.2
"""How often a FIFO without a reader is probed (a non-blocking open: cheap), however long ``retry_s``."""

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


def open_for_writing(path: Path, *, wait: bool = True) -> BinaryIO:
    """Open for writing; '-' is stdout. ``wait``: a FIFO blocks until its reader opens it; else a FIFO
    without a reader raises ENXIO at once (writes then block as usual)."""
    if path == STDIO:
        return os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    if wait or not is_stream_path(path):
        return open(path, "wb", buffering=0)
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "wb", buffering=0)


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
    """Write bytes to a FIFO/stdout from a daemon thread; ``write`` never blocks the loop.

    The output survives its reader: when a FIFO has no reader (at start, or the player went away: EPIPE)
    or a write fails, the writer logs it once, drops what it cannot write, and tries again: a FIFO is
    probed every ``min(retry_s, FIFO_POLL_S)`` (a cheap non-blocking open), anything else every
    ``retry_s``. When the output is back it logs how long it was out. Audio written during an outage is
    dropped, not queued (a reply in progress would otherwise play late, or pile up for ever); audio
    written before the very first reader arrives is kept up to ``max_pending`` bytes. ``dropped`` counts
    the bytes lost."""

    def __init__(self, path: Path, *, name: str, header: bytes = b"", retry_s: float = 5.0,
                 max_pending: int = 10 * 48000, clock: Callable[[], float] = time.monotonic) -> None:
        self._path = path
        self._name = name
        self._header = header
        self._retry_s = retry_s
        self._max_pending = max_pending
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: collections.deque[bytes] = collections.deque()
        self._pending_bytes = 0
        self._ready = threading.Condition(self._lock)
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._finished = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected_once = False
        self._down_since = 0.0
        self._give_up_at = float("inf")
        self.out = threading.Event()
        """Set while the output is unusable (after it failed, until it is back)."""
        self.error: OSError | None = None
        """The latest error (kept after recovery)."""
        self.outages = 0
        self.dropped = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    def write(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            if self._closing:
                return
            if self.out.is_set() or self._pending_bytes + len(data) > self._max_pending:
                self.dropped += len(data)
                return
            self._pending.append(data)
            self._pending_bytes += len(data)
            self._ready.notify()

    async def close(self, grace_s: float = 2.0) -> None:
        """Finish writing what is queued, waiting at most ``grace_s`` (the reader may be gone)."""
        with self._lock:
            self._closing = True
            self._give_up_at = self._clock() + grace_s
            self._ready.notify()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                await self._finished.wait()

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        try:
            while not self._stopped():
                f = self._open()
                if f is None:
                    continue
                with f:
                    self._pump(f)
        finally:
            assert self._loop is not None
            with contextlib.suppress(RuntimeError):  # loop already closed at exit
                self._loop.call_soon_threadsafe(self._finished.set)

    def _stopped(self) -> bool:
        with self._lock:
            if self._path == STDIO and self.out.is_set():
                return True  # a broken stdout never comes back: drop the rest (logged once)
            return self._closing and (not self._pending or self.out.is_set() or self._clock() > self._give_up_at)

    def _open(self) -> BinaryIO | None:
        try:
            f = open_for_writing(self._path, wait=False)
        except OSError as exc:
            self._failed(exc)
            wait = min(self._retry_s, FIFO_POLL_S) if exc.errno == errno.ENXIO else self._retry_s
            with self._lock:
                self._ready.wait_for(lambda: self._closing, timeout=wait)
            return None
        try:
            if self._header:
                f.write(self._header)
        except OSError as exc:
            f.close()
            self._failed(exc)
            return None
        self._connected_once = True
        if self.out.is_set():
            self.out.clear()
            log.warning("audio output %s is back after %.1f s (%d bytes dropped meanwhile)", self._name,
                        self._clock() - self._down_since, self.dropped)
        return f

    def _pump(self, f: BinaryIO) -> None:
        while True:
            with self._lock:
                self._ready.wait_for(lambda: self._pending or self._closing)
                if not self._pending:
                    return  # closing, all written
                data = self._pending.popleft()
                self._pending_bytes -= len(data)
            try:
                f.write(data)
            except OSError as exc:
                self.dropped += len(data)
                self._failed(exc)
                return

    def _failed(self, exc: OSError) -> None:
        self.error = exc
        first_wait = exc.errno == errno.ENXIO and not self._connected_once
        with self._lock:
            if not first_wait:  # before the first reader came, audio waits (bounded); after, it is dropped
                self.dropped += self._pending_bytes
                self._pending.clear()
                self._pending_bytes = 0
            if self.out.is_set() or first_wait:
                return
            self.out.set()
            self.outages += 1
        self._down_since = self._clock()
        why = "its reader went away" if isinstance(exc, BrokenPipeError) else (exc.strerror or str(exc))
        if self._path == STDIO:
            log.error("audio output stdout failed (%s); dropping all further audio", why)
            return
        log.error("audio output %s failed (%s); dropping audio, reopening every %g s", self._name, why,
                  min(self._retry_s, FIFO_POLL_S) if is_stream_path(self._path) else self._retry_s)
