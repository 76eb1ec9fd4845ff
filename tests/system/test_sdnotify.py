"""sd_notify: what systemd receives on its notify socket, and silence outside systemd."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from speaker.system.sdnotify import Notifier


class Receiver:
    """The systemd side: a bound AF_UNIX datagram socket."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)

    def recv(self, timeout: float = 2.0) -> bytes:
        self.sock.settimeout(timeout)
        return self.sock.recv(4096)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[Path]:
    # AF_UNIX paths are limited to 107 bytes; pytest's tmp_path can be longer for long test names
    if len(str(tmp_path)) < 80:
        yield tmp_path / "notify.sock"
        return
    with tempfile.TemporaryDirectory(prefix="sdn") as short:
        yield Path(short) / "notify.sock"


@pytest.fixture
def receiver(socket_path: Path) -> Iterator[Receiver]:
    r = Receiver(str(socket_path))
    yield r
    r.close()


def test_messages_arrive_with_the_exact_bytes(receiver: Receiver, socket_path: Path) -> None:
    with Notifier.from_environ({"NOTIFY_SOCKET": str(socket_path)}) as notifier:
        assert notifier.enabled
        notifier.ready()
        assert receiver.recv() == b"READY=1"
        notifier.status("listening for hey_jarvis")
        assert receiver.recv() == b"STATUS=listening for hey_jarvis"
        notifier.watchdog()
        assert receiver.recv() == b"WATCHDOG=1"
        notifier.stopping()
        assert receiver.recv() == b"STOPPING=1"


def test_status_travels_with_ready_and_stopping_and_stays_one_line(receiver: Receiver, socket_path: Path) -> None:
    with Notifier.from_environ({"NOTIFY_SOCKET": str(socket_path)}) as notifier:
        notifier.ready("listening")
        assert receiver.recv() == b"READY=1\nSTATUS=listening"
        # a newline would start a new KEY=value assignment that systemd would try to interpret
        notifier.status("device lost\nREADY=1")
        assert receiver.recv() == b"STATUS=device lost READY=1"
        notifier.stopping("closing the session")
        assert receiver.recv() == b"STOPPING=1\nSTATUS=closing the session"


def test_abstract_namespace_socket() -> None:
    name = f"speaker-test-{uuid.uuid4().hex}"
    receiver = Receiver(b"\0" + name.encode())
    try:
        with Notifier.from_environ({"NOTIFY_SOCKET": "@" + name}) as notifier:
            notifier.ready()
            assert receiver.recv() == b"READY=1"
    finally:
        receiver.close()


def test_outside_systemd_everything_is_a_silent_no_op(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="speaker.system")
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert notifier.watchdog_interval() is None
    for send in (notifier.ready, notifier.watchdog, notifier.stopping):
        send()
    notifier.status("x")
    assert notifier.notify("READY=1") is False
    assert notifier._sock is None, "no socket may be opened outside systemd"
    assert caplog.records == []


def test_send_errors_never_raise_and_are_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="speaker.system")
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens.sock")})
    assert notifier.enabled
    results = [notifier.notify("WATCHDOG=1") for _ in range(3)]
    notifier.ready()
    notifier.close()
    assert results == [False, False, False]
    messages = [r.getMessage() for r in caplog.records if r.name == "speaker.system.sdnotify"]
    assert len(messages) == 1 and "cannot notify systemd" in messages[0]
    assert caplog.records[0].levelno == logging.DEBUG


def test_unusable_socket_values_disable_notifications() -> None:
    assert not Notifier.from_environ({"NOTIFY_SOCKET": "relative/path.sock"}).enabled
    assert not Notifier.from_environ({"NOTIFY_SOCKET": ""}).enabled


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),  # a parent's watchdog
        ({"WATCHDOG_USEC": "not a number"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_the_timeout_and_only_for_us(env: dict[str, str], expected: float | None) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": "/run/systemd/notify", **env})
    assert notifier.watchdog_interval() == expected


def test_no_watchdog_without_a_notify_socket() -> None:
    assert Notifier.from_environ({"WATCHDOG_USEC": "30000000"}).watchdog_interval() is None


def test_unset_environment_keeps_children_from_inheriting(monkeypatch: pytest.MonkeyPatch,
                                                         receiver: Receiver, socket_path: Path) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(socket_path))
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    notifier = Notifier.from_environ(unset_environment=True)
    assert not {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} & set(os.environ)
    assert notifier.watchdog_interval() == 2.0
    notifier.ready()
    assert receiver.recv() == b"READY=1"
    notifier.close()
