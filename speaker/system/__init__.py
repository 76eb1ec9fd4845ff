"""Running under systemd: readiness/status/watchdog notifications and graceful-stop signal handling.

- :class:`~speaker.system.sdnotify.Notifier`: the sd_notify protocol (``Type=notify``, ``WatchdogSec=``),
  a no-op outside systemd.
- :class:`~speaker.system.signals.StopSignals`: first SIGTERM/SIGINT asks for a graceful stop, a second
  one exits at once.

The unit file, installer and hardware notes live in ``raspberrypi/``.
"""

from speaker.system.sdnotify import Notifier
from speaker.system.signals import StopSignals

__all__ = ["Notifier", "StopSignals"]
