"""The one-active-response gate: the service refuses a second ``response.create`` while one is active,
so the core asks for the next response only once the previous one (or a cancelled one) is done and
every tool call has its output."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Call:
    name: str
    started: float
    sent: bool = False


class ResponseGate:
    def __init__(self) -> None:
        self.active: str | None = None
        """The response the service is producing now."""
        self.cancelled: set[str] = set()
        """Responses we cancelled whose response.done has not come yet."""
        self.need_response = False
        """A response.create is owed as soon as the gate opens."""
        self.awaiting = False
        """We asked for a response and none has started yet."""
        self.calls: dict[str, Call] = {}

    def reset(self) -> None:
        self.active = None
        self.cancelled.clear()
        self.need_response = False
        self.awaiting = False
        self.calls.clear()

    @property
    def open(self) -> bool:
        """A response.create now would be accepted."""
        return self.active is None and not self.cancelled and not self.tools_pending

    @property
    def tools_pending(self) -> bool:
        return any(not c.sent for c in self.calls.values())

    def cancel_active(self) -> str | None:
        """The active response is being cancelled: its late events are dropped."""
        rid, self.active = self.active, None
        if rid is not None:
            self.cancelled.add(rid)
        self.need_response = False
        self.awaiting = False
        return rid

    def finished_calls(self) -> None:
        """Forget the calls whose outputs went with the response just asked for."""
        self.calls = {k: c for k, c in self.calls.items() if not c.sent}
