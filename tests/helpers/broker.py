"""A real Mosquitto broker on a free loopback port, started by the tests."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.helpers.ports import free_port, wait_for_port

START_S = 10.0
"""Bound on mosquitto's start: only a hang takes this long."""


class PortTaken(Exception):
    """Another process listens on the broker's port (a free port is only free until someone binds it)."""


@dataclass
class Broker:
    host: str
    port: int
    process: subprocess.Popen[str] | None

    def stop(self) -> None:
        """Stop the broker (simulates a broker outage)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=5)

    def start(self) -> None:
        """(Re)start on the same port; ``PortTaken`` if another process listens there.

        Waits for mosquitto's own "running" line rather than for the port to answer: with tests running
        in parallel, something else answering on the port must not pass for this broker."""
        self.stop()
        with tempfile.TemporaryFile("w+") as log:  # a file, not a pipe: nobody has to keep reading it
            self.process = subprocess.Popen(["mosquitto", "-p", str(self.port)], stdout=subprocess.DEVNULL,
                                            stderr=log, text=True)
            deadline = time.monotonic() + START_S
            while True:
                log.seek(0)
                said = log.read()
                if " running" in said or self.process.poll() is not None:
                    break
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"mosquitto did not start within {START_S} s: {said}")
                time.sleep(0.01)
        if "Address already in use" in said:  # on IPv4 or IPv6 alone, mosquitto runs on with the other
            self.stop()
            raise PortTaken(f"port {self.port} is taken")
        if self.process.poll() is not None:
            raise RuntimeError(f"mosquitto exited with code {self.process.returncode}: {said}")
        wait_for_port(self.port)


def start_broker() -> Broker:
    """A broker on a free port (another if that one is taken before mosquitto binds it)."""
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (script/setup --test installs it)")
    tries = 5
    while True:
        broker = Broker("127.0.0.1", free_port(), None)
        try:
            broker.start()
            return broker
        except PortTaken:
            tries -= 1
            if not tries:
                raise


@pytest.fixture
def broker() -> Iterator[Broker]:
    """A fresh broker for one test (the test may stop and restart it)."""
    b = start_broker()
    try:
        yield b
    finally:
        b.stop()
