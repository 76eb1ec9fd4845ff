"""Fixtures for the MCP tests: the test server (``server_app.py``) as a real subprocess over streamable
HTTP on a free loopback port, and the third-party ``server-everything`` installed from npm."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.mcp.support import HERE, HttpServer

NPM_DIR = HERE / ".cache" / "npm"
EVERYTHING_VERSION = "2026.8.31"
EVERYTHING_JS = NPM_DIR / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
NPM_INSTALL_TIMEOUT_S = 120


@pytest.fixture
def http_server() -> Iterator[Callable[..., HttpServer]]:
    """A factory: ``http_server(token=…, port=…, start=True)``; every server is killed afterwards."""
    made: list[HttpServer] = []

    def make(*, token: str | None = None, port: int | None = None, start: bool = True) -> HttpServer:
        server = HttpServer(port, token)
        made.append(server)
        return server.start() if start else server

    yield make
    for server in made:
        server.kill()


@pytest.fixture(scope="module")
def shared_http_server() -> Iterator[HttpServer]:
    """One server for the tests that do not stop it."""
    server = HttpServer().start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def everything_js() -> Path:
    """``@modelcontextprotocol/server-everything`` installed with npm into a git-ignored cache
    (once; later runs reuse it). Skips with the reason when node/npm or the registry is missing."""
    if EVERYTHING_JS.exists():
        return EVERYTHING_JS
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("node/npm not installed: cannot run the third-party MCP server-everything")
    NPM_DIR.mkdir(parents=True, exist_ok=True)
    # Every pytest-xdist worker runs this session fixture: one installs while the others wait and then
    # reuse what it installed, or skip for the reason it failed (rather than each trying for minutes).
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
    failed = NPM_DIR / ".install-failed"
    with open(NPM_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if EVERYTHING_JS.exists():
            return EVERYTHING_JS
        if run and failed.exists():
            failed_run, _, why = failed.read_text().partition("\n")
            if failed_run == run:
                pytest.skip(why)
        why = _npm_install(npm)
        if why is not None:
            failed.write_text(f"{run}\n{why}")
            pytest.skip(why)
    return EVERYTHING_JS


def _npm_install(npm: str) -> str | None:
    """Install server-everything; the reason it failed, or None."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(NPM_DIR), "--no-audit", "--no-fund", "--loglevel=error",
             f"@modelcontextprotocol/server-everything@{EVERYTHING_VERSION}"],
            capture_output=True, text=True, timeout=NPM_INSTALL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"npm install of server-everything took more than {NPM_INSTALL_TIMEOUT_S} s (registry not reachable?)"
    if done.returncode != 0 or not EVERYTHING_JS.exists():
        first = next(iter(done.stderr.strip().splitlines()), f"exit status {done.returncode}")
        return f"npm install of server-everything failed (registry not reachable?): {first}"
    print(f"installed server-everything in {time.monotonic() - started:.1f} s")
    return None
