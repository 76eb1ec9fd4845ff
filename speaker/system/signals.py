"""SIGTERM/SIGINT for an asyncio daemon: the first signal asks for a graceful stop, a second one exits now.

``systemctl stop`` sends SIGTERM (then SIGKILL after ``TimeoutStopSec``); Ctrl-C sends SIGINT. The
first of either sets :attr:`StopSignals.stop_requested` and calls the ``on_stop`` callback inside the
event loop, so the daemon can close the Realtime session, say goodbye to the broker and flush state
within its own time limit. A second signal means "I asked already": the process exits immediately
with ``os._exit(128 + signal number)`` (130 for SIGINT, 143 for SIGTERM, as a shell would report).

Why ``os._exit`` and not ``raise SystemExit``: the second signal exists for the case where the
graceful path is stuck. ``SystemExit`` raised in the event loop would unwind through ``asyncio.run``,
which then cancels and *awaits* every remaining task (the stuck cleanup again), and the interpreter
would still join non-daemon threads (an executor thread blocked in DNS, a PortAudio callback)
before exiting. ``os._exit`` skips all of that; the cost is that ``finally`` blocks and atexit hooks
do not run, which is exactly what the user asked for. Log handlers flush on every record, and we
try to flush stdio first.

The handlers are plain ``signal.signal`` handlers, not ``loop.add_signal_handler``: Python runs them
in the main thread between bytecodes even when the event loop is blocked by a synchronous call, so
the second signal works in precisely the situation it is for. The first signal only hands over to
the loop with ``call_soon_threadsafe`` (as ``asyncio.Runner`` does for Ctrl-C); everything else,
including logging, happens in the loop, never inside the signal handler.

A wakeup fd closes the one gap plain handlers have: a signal that arrives just before the loop enters
``epoll_wait`` is taken by the C-level handler without interrupting the wait, so the Python handler
would only run when the wait ends by itself (seconds later). With ``signal.set_wakeup_fd`` the C
handler also writes a byte to a socket the loop watches, which ends the wait at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType
from typing import Any, NoReturn

log = logging.getLogger(__name__)

DEFAULT_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_Handler = Callable[[int, FrameType | None], Any] | int | None


class StopSignals:
    """Install graceful-stop signal handlers for the lifetime of a ``with`` block.

    Use inside the running event loop (and from the main thread, as Python requires)::

        with StopSignals(on_stop=lambda sig: notifier.stopping()) as signals:
            ...  # run the daemon until signals.stop_requested is set

    On leaving the block the previous handlers are restored, so a signal that arrives afterwards
    behaves as it did before (asyncio.run's own Ctrl-C handling, or the default action).
    """

    def __init__(self, on_stop: Callable[[signal.Signals], None] | None = None, *,
                 signals: Iterable[signal.Signals] = DEFAULT_SIGNALS,
                 grace_s: float | None = None) -> None:
        """``on_stop`` runs once, in the event loop, on the first signal (e.g. cancel the main task
        group, send STOPPING=1). ``grace_s``, if given, hard-exits the process that many seconds after
        the first signal if it is still running then: the daemon's own bound on a graceful stop, kept
        below the unit's ``TimeoutStopSec`` so the stop is reported by us rather than by a SIGKILL."""
        self._on_stop = on_stop
        self._signals = tuple(signals)
        self._grace_s = grace_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: dict[signal.Signals, _Handler] = {}
        self._grace_timer: asyncio.TimerHandle | None = None
        self.stop_requested = asyncio.Event()
        """Set (in the loop) on the first signal."""
        self.received: signal.Signals | None = None
        """The first signal received, if any."""
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._previous_wakeup_fd = -1

    # ------------------------------------------------------------------ install / restore

    def install(self) -> None:
        """Install the handlers. Needs a running event loop and the main thread."""
        if self._loop is not None:
            raise RuntimeError("StopSignals is already installed")
        loop = asyncio.get_running_loop()
        previous: dict[signal.Signals, _Handler] = {}
        try:
            for sig in self._signals:
                previous[sig] = signal.getsignal(sig)
                signal.signal(sig, self._handle)
            self._install_wakeup(loop)
        except BaseException:
            self._restore(previous)
            raise
        self._loop = loop
        self._previous = previous

    def _install_wakeup(self, loop: asyncio.AbstractEventLoop) -> None:
        """Let the C-level handler wake the loop (see the module docstring)."""
        rsock, wsock = socket.socketpair()
        rsock.setblocking(False)
        wsock.setblocking(False)
        self._previous_wakeup_fd = signal.set_wakeup_fd(wsock.fileno(), warn_on_full_buffer=False)
        self._wakeup = (rsock, wsock)
        # the bytes only wake the loop; the Python handler does the work
        loop.add_reader(rsock.fileno(), self._drain_wakeup)

    def _drain_wakeup(self) -> None:
        if self._wakeup is not None:
            with contextlib.suppress(OSError):
                self._wakeup[0].recv(512)

    def _remove_wakeup(self) -> None:
        if self._wakeup is None:
            return
        rsock, wsock = self._wakeup
        self._wakeup = None
        with contextlib.suppress(Exception):
            signal.set_wakeup_fd(self._previous_wakeup_fd)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(Exception):
                loop.remove_reader(rsock.fileno())
        rsock.close()
        wsock.close()

    def restore(self) -> None:
        """Put back the handlers that were installed before; cancel the grace timer."""
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None
        self._remove_wakeup()
        self._restore(self._previous)
        self._previous = {}
        self._loop = None

    @staticmethod
    def _restore(previous: dict[signal.Signals, _Handler]) -> None:
        for sig, handler in previous.items():
            # None means the handler was not installed from Python; the default is the best we can do
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

    def __enter__(self) -> StopSignals:
        self.install()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.restore()

    # ------------------------------------------------------------------ handling

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler proper: runs in the main thread, possibly in the middle of loop code."""
        loop = self._loop
        if self.received is not None or loop is None or loop.is_closed():
            _exit_now(signum, f"second {_name(signum)}: exiting immediately")
        self.received = signal.Signals(signum)
        loop.call_soon_threadsafe(self._begin_stop)

    def _begin_stop(self) -> None:
        """First signal, now inside the event loop."""
        sig = self.received
        assert sig is not None
        log.info("%s received: stopping (send it again to exit at once)", sig.name)
        self.stop_requested.set()
        if self._grace_s is not None and self._loop is not None:
            self._grace_timer = self._loop.call_later(self._grace_s, self._grace_expired)
        if self._on_stop is not None:
            try:
                self._on_stop(sig)
            except Exception:
                log.exception("stop callback failed; stopping anyway")

    def _grace_expired(self) -> None:
        sig = self.received
        assert sig is not None
        _exit_now(sig.value, f"graceful stop took longer than {self._grace_s} s: exiting now")


def _name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _exit_now(signum: int, why: str) -> NoReturn:
    """Leave the process immediately with 128 + signum (see the module docstring for why)."""
    with contextlib.suppress(OSError):
        # a raw write: the stderr buffer's lock may be held by the code this signal interrupted
        os.write(2, f"speaker: {why}\n".encode())
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # RuntimeError on a re-entrant buffered write, closed…
            stream.flush()
    os._exit(128 + signum)
