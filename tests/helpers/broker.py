"""A real Mosquitto broker on a free loopback port, started by the tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.helpers.ports import free_port, wait_for_port


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
        """(Re)start on the same port."""
        self.stop()
        self.process = subprocess.Popen(
            ["mosquitto", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        )
        wait_for_port(self.port)


def start_broker() -> Broker:
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (script/setup --test installs it)")
    broker = Broker("127.0.0.1", free_port(), None)
    broker.start()
    return broker


@pytest.fixture
def broker() -> Iterator[Broker]:
    """A fresh broker for one test (the test may stop and restart it)."""
    b = start_broker()
    try:
        yield b
    finally:
        b.stop()
