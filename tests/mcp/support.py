"""Helpers for the MCP tests: the test server (``server_app.py``) as a real subprocess, bounded waits."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from tests.helpers.ports import free_port, wait_for_port

HERE = Path(__file__).resolve().parent
SERVER_APP = HERE / "server_app.py"


class HttpServer:
    """``server_app.py http PORT`` in a subprocess; ``url`` is its MCP endpoint."""

    def __init__(self, port: int | None = None, token: str | None = None) -> None:
        self.port = port or free_port()
        self.token = token
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HttpServer:
        args = [sys.executable, str(SERVER_APP), "http", str(self.port)]
        if self.token:
            args += ["--token", self.token]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, timeout=15)
        except TimeoutError:
            self.kill()
            raise
        return self

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None


def stdio_command() -> list[str]:
    return [sys.executable, str(SERVER_APP), "stdio"]


def kill_children(marker: str) -> int:
    """SIGKILL our child processes whose command line contains ``marker`` (stdio servers the SDK
    started); returns how many."""
    me = os.getpid()
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == me and marker in cmdline:
            os.kill(int(entry.name), signal.SIGKILL)
            killed += 1
    return killed


async def eventually(predicate: Callable[[], bool], limit_s: float, step_s: float = 0.02) -> None:
    """Wait until ``predicate()`` holds, failing the test after ``limit_s``."""
    async with asyncio.timeout(limit_s):
        while not predicate():  # noqa: ASYNC110 - polling state other tasks change is the point here
            await asyncio.sleep(step_s)


T = TypeVar("T")


async def bounded(awaitable: Awaitable[T], limit_s: float = 10.0) -> T:
    """Await with a time limit (every await in these tests is bounded)."""
    async with asyncio.timeout(limit_s):
        return await awaitable
