"""systemd readiness, status and watchdog notifications (the ``sd_notify`` protocol), without a dependency.

Under ``Type=notify`` systemd passes the path of a datagram socket in ``NOTIFY_SOCKET``; the service
sends newline-separated ``KEY=value`` assignments to it (``READY=1``, ``STATUS=…``, ``WATCHDOG=1``,
``STOPPING=1``). With ``WatchdogSec=`` set, systemd also passes ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``)
and restarts the service if no ``WATCHDOG=1`` arrives within that time.

Outside systemd (no ``NOTIFY_SOCKET``: a terminal, the tests, ``speaker demo``) every method is a
no-op, so the daemon calls them unconditionally. Sending never raises: a notification is a courtesy
to the service manager and must never take the speaker down.

Where the daemon should send what (see also the README in ``raspberrypi/``):

- ``ready()`` once settings are loaded, the wake word model is loaded and the main task group runs.
  Not after the microphone, the broker or an MCP server answer: those reconnect on their own, and a
  missing USB microphone must not turn into a start timeout and a restart loop.
- ``status(text)`` when what a user would want to see in ``systemctl status speaker`` changes
  ("listening for hey_jarvis", "waiting for audio device …", "in conversation"). Not per frame.
- ``watchdog()`` every ``watchdog_interval()`` seconds, only while the pipeline is healthy (the
  daemon pings while microphone frames flow): a stuck event loop or a dead capture then gets the
  service restarted.
- ``stopping()`` as soon as a graceful stop begins (first SIGTERM).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from types import TracebackType

log = logging.getLogger(__name__)

_ENV_KEYS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def _socket_address(value: str | None) -> str | bytes | None:
    """The ``sendto`` address for a ``NOTIFY_SOCKET`` value, or None if there is none we can use.

    An absolute path is a socket file; a leading ``@`` names a socket in the abstract namespace
    (Linux), which the kernel spells with a leading NUL byte. Other forms (``vsock:`` in newer
    systemd, relative paths) are not used for a local service and are ignored.
    """
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


def _watchdog_period(environ: Mapping[str, str], pid: int) -> float | None:
    """Half the watchdog timeout in seconds, if the watchdog is enabled for this process."""
    usec = environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    try:
        timeout_us = int(usec)
    except ValueError:
        return None
    if timeout_us <= 0:
        return None
    owner = environ.get("WATCHDOG_PID")
    if owner:
        try:
            if int(owner) != pid:
                return None  # inherited from a parent: the watchdog is someone else's
        except ValueError:
            return None
    return timeout_us / 2 / 1_000_000


class Notifier:
    """Sends sd_notify messages to systemd; a silent no-op when not started by systemd.

    Build it once, early (``Notifier.from_environ(unset_environment=True)`` in the daemon), and pass
    it to whatever reports state. Thread-safe enough for one event loop: every send is a single
    non-blocking ``sendto``.
    """

    def __init__(self, address: str | bytes | None, watchdog_period: float | None = None) -> None:
        self._address = address
        self._watchdog_period = watchdog_period if address is not None else None
        self._sock: socket.socket | None = None
        self._failed = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, *,
                     unset_environment: bool = False) -> Notifier:
        """A notifier for the socket systemd gave this process.

        ``unset_environment=True`` removes ``NOTIFY_SOCKET``/``WATCHDOG_*`` from ``os.environ`` so that
        child processes (stdio MCP servers, helper commands) do not inherit them and try to notify
        on our behalf; the daemon should pass it. It only applies when ``environ`` is ``os.environ``.
        """
        env = os.environ if environ is None else environ
        address = _socket_address(env.get("NOTIFY_SOCKET"))
        period = _watchdog_period(env, os.getpid())
        if env.get("NOTIFY_SOCKET") and address is None:
            log.debug("NOTIFY_SOCKET=%r is not a socket path we can use; not notifying systemd",
                      env.get("NOTIFY_SOCKET"))
        if unset_environment and env is os.environ:
            for key in _ENV_KEYS:
                os.environ.pop(key, None)
        return cls(address, period)

    @property
    def enabled(self) -> bool:
        """True when started by systemd with a notify socket."""
        return self._address is not None

    def watchdog_interval(self) -> float | None:
        """Seconds between ``watchdog()`` calls (half of ``WatchdogSec``), or None if there is no
        watchdog for this process."""
        return self._watchdog_period

    # ------------------------------------------------------------------ messages

    def ready(self, status: str | None = None) -> None:
        """Startup is finished (``READY=1``), optionally with a status line in the same message."""
        self.notify("READY=1", *self._status_field(status))

    def status(self, text: str) -> None:
        """Free-form status shown by ``systemctl status`` (``STATUS=…``; one line)."""
        self.notify(*self._status_field(text))

    def watchdog(self) -> None:
        """Keep-alive ping (``WATCHDOG=1``)."""
        self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> None:
        """A graceful stop has begun (``STOPPING=1``)."""
        self.notify("STOPPING=1", *self._status_field(status))

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields as one datagram. Returns whether it was sent; never raises."""
        if self._address is None or not fields:
            return False
        data = "\n".join(fields).encode("utf-8", "replace")
        try:
            if self._sock is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # never block the event loop: if PID 1 is not reading, waiting would only make us
                # miss our own deadlines; the message is dropped instead
                sock.setblocking(False)
                self._sock = sock
            self._sock.sendto(data, self._address)
        except OSError as exc:
            if not self._failed:
                self._failed = True  # log once: a dead socket would otherwise log every ping
                log.debug("cannot notify systemd (%s); further failures are not logged", exc)
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @staticmethod
    def _status_field(text: str | None) -> tuple[str, ...]:
        if text is None:
            return ()
        # the protocol is newline-separated: a newline in the text would start a bogus assignment
        return ("STATUS=" + " ".join(text.splitlines()),)
