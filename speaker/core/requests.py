"""Conversations the outside world asked for (MQTT say/ask), started one at a time as soon as the
speaker is idle."""

from __future__ import annotations

from speaker.core.events import Announce, StartConversation

MAX_PENDING = 20


class Requests:
    ANNOUNCER = "You read announcements aloud exactly as written, without adding anything."

    def __init__(self) -> None:
        self._pending: list[Announce | StartConversation] = []

    def add(self, request: Announce | StartConversation) -> None:
        if len(self._pending) >= MAX_PENDING:
            self._pending.pop(0)  # a flood of automations must not grow without bound
        self._pending.append(request)

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def next(self, *, announcements_only: bool = False) -> Announce | StartConversation | None:
        """The oldest request (``announcements_only``: the oldest announcement; a muted speaker keeps
        conversations waiting)."""
        for i, request in enumerate(self._pending):
            if not announcements_only or isinstance(request, Announce):
                return self._pending.pop(i)
        return None
