"""StopSignals: the first signal runs the graceful path, a second one ends the process at once."""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from speaker.system.signals import StopSignals

ROOT = Path(__file__).resolve().parents[2]
HANG_S = 60.0
"""Bound on waiting for a child: far below its hour-long cleanups, far above any slow machine's pace."""

# A miniature daemon. argv: mode ("clean" | "hang" | "block") and an optional grace period.
CHILD = textwrap.dedent("""
    import asyncio, sys, time
    from speaker.system.signals import StopSignals

    async def main() -> int:
        mode = sys.argv[1]
        grace = float(sys.argv[2]) if len(sys.argv) > 2 else None
        with StopSignals(on_stop=lambda sig: print("on_stop", sig.name, flush=True), grace_s=grace) as stop:
            print("ready", flush=True)
            await stop.stop_requested.wait()
            print("graceful", flush=True)
            if mode == "hang":
                await asyncio.sleep(3600)    # a cleanup that never finishes
            elif mode == "block":
                time.sleep(3600)             # a cleanup that blocks the event loop itself
            print("cleanup done", flush=True)
        return 0

    sys.exit(asyncio.run(main()))
""")


class Child:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.out = b""

    def wait_for(self, text: str, timeout: float = HANG_S) -> None:
        """Read stdout until ``text`` appears (bounded)."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while text.encode() not in self.out:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise AssertionError(f"child did not print {text!r} within {timeout} s; got {self.out!r}")
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    raise AssertionError(f"child exited before printing {text!r}; got {self.out!r}")
                self.out += chunk

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def finish(self, timeout: float = HANG_S) -> tuple[int, str, str]:
        """Wait for the exit; the cleanups above last an hour, so only an exit that happened ends this."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise AssertionError(f"child still running {timeout} s later") from None
        return self.proc.returncode, (self.out + out).decode(), err.decode()


def in_blocking_sleep(pid: int) -> None:
    """Wait until the child's main thread sleeps in the kernel's nanosleep (``time.sleep``), not in the
    event loop's epoll: the state this test is about. Where the kernel hides it (``wchan`` reads 0
    while the process sleeps), go on at once."""
    proc = Path(f"/proc/{pid}")
    deadline = time.monotonic() + HANG_S
    while True:
        try:
            where = (proc / "wchan").read_text()
            state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            return
        if "nanosleep" in where or (where in ("", "0") and state == "S"):
            return
        assert time.monotonic() < deadline, f"the child never entered its blocking call (in {where!r})"
        time.sleep(0.005)


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.communicate()


def start(children: list[Child], *args: str) -> Child:
    child = Child(*args)
    children.append(child)
    child.wait_for("ready")
    return child


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_first_signal_runs_the_graceful_path_and_exits_0(children: list[Child], sig: signal.Signals) -> None:
    child = start(children, "clean")
    child.send(sig)
    rc, out, err = child.finish()
    assert rc == 0, err
    assert out.splitlines() == ["ready", f"on_stop {sig.name}", "graceful", "cleanup done"]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_second_signal_exits_immediately(children: list[Child], sig: signal.Signals, code: int) -> None:
    child = start(children, "hang")
    child.send(sig)
    child.wait_for("graceful")
    child.send(sig)
    rc, out, err = child.finish()  # the hour-long cleanup was not waited for
    assert rc == code
    assert "cleanup done" not in out
    assert f"second {sig.name}: exiting immediately" in err


def test_second_signal_works_even_when_the_event_loop_is_blocked(children: list[Child]) -> None:
    child = start(children, "block")
    child.send(signal.SIGINT)
    child.wait_for("graceful")
    in_blocking_sleep(child.proc.pid)
    child.send(signal.SIGINT)
    rc, out, _ = child.finish()
    assert rc == 130
    assert "cleanup done" not in out


def test_grace_period_bounds_a_stuck_graceful_stop(children: list[Child]) -> None:
    child = start(children, "hang", "0.5")
    child.send(signal.SIGTERM)
    rc, out, err = child.finish()  # ended by the grace period, not by the hour-long cleanup
    assert rc == 143
    assert "graceful" in out and "cleanup done" not in out
    assert "graceful stop took longer than 0.5 s" in err


async def test_in_process_stop_event_callback_and_handler_restore() -> None:
    # SIGUSR1 with a harmless handler of our own as "the previous handler": if installation were
    # broken, the signal would hit that handler instead of killing the test run
    seen_by_previous: list[int] = []

    def previous(signum: int, frame: FrameType | None) -> None:
        seen_by_previous.append(signum)

    original = signal.signal(signal.SIGUSR1, previous)
    try:
        calls: list[signal.Signals] = []
        with StopSignals(on_stop=calls.append, signals=(signal.SIGUSR1,)) as stop:
            assert signal.getsignal(signal.SIGUSR1) != previous
            os.kill(os.getpid(), signal.SIGUSR1)
            await asyncio.wait_for(stop.stop_requested.wait(), HANG_S)
            assert stop.received is signal.SIGUSR1
            assert calls == [signal.SIGUSR1]
        assert signal.getsignal(signal.SIGUSR1) is previous
        assert seen_by_previous == []
        os.kill(os.getpid(), signal.SIGUSR1)
        async with asyncio.timeout(HANG_S):
            while not seen_by_previous:  # noqa: ASYNC110 - a signal handler appends
                await asyncio.sleep(0.005)
        assert seen_by_previous == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, original)


async def test_install_twice_is_refused_and_restore_is_safe() -> None:
    stop = StopSignals(signals=(signal.SIGUSR2,))
    before = signal.getsignal(signal.SIGUSR2)
    stop.install()
    try:
        with pytest.raises(RuntimeError):
            stop.install()
    finally:
        stop.restore()
    stop.restore()  # a second restore changes nothing
    assert signal.getsignal(signal.SIGUSR2) == before


def test_second_signal_right_after_the_first_is_never_lost(children: list[Child]) -> None:
    """Regression: a signal arriving just before the loop enters epoll_wait used to wait for the poll
    timeout (the Python handler only runs once the wait ends). The wakeup fd ends the wait at once.
    Repeated, because the window is narrow (it hit about 1 run in 16)."""
    for _ in range(20):
        child = start(children, "hang")
        child.send(signal.SIGINT)
        child.wait_for("graceful")
        child.send(signal.SIGINT)
        rc, _, _ = child.finish()  # a lost wakeup would sit out the hour-long sleep's poll timeout
        assert rc == 130
