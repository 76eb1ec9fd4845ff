"""The timer service: timers kept by the daemon (not the Realtime session, which closes when idle).

* **Persistence.** Every change is written atomically to ``<state_dir>/timers.json``; deadlines are
  wall-clock (Unix) times, so a timer survives the session closing and the daemon restarting.
* **Missed timers.** A timer that finished while the daemon was down (or was ringing when it stopped)
  rings when the daemon starts if it finished at most ``timers.missed_ring_s`` ago; its
  ``timer_finished`` event then carries ``late_s``. Older ones are dropped and reported with
  ``timer_finished`` ``{"missed": true}``: a kitchen timer from last night should not wake the house.
* **Ringing.** A finished timer rings until it is dismissed: by the wake word, the stop command,
  cancel_timer, or after ``timers.max_ring_s`` of ringing. The service only says so (it posts
  ``TimersRinging`` / ``TimersQuiet`` to the core's queue); the core plays the ring, waits while a
  conversation uses the speaker, and asks for the dismissal (its ``timer_finished`` event is published
  at once).
* **Clock.** ``clock`` (Unix seconds) is injectable; the schedule re-checks at least every ``poll_s``
  so a wall-clock jump (NTP after boot) is noticed, and ``check()`` can be called directly by tests.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from speaker.config.schema import TimersSettings
from speaker.core.events import CoreEvent, TimersQuiet, TimersRinging
from speaker.errors import ToolError
from speaker.tasks import TaskSet
from speaker.timers.model import Timer, duration_label, local_iso, spoken_duration
from speaker.timers.store import load_json, save_json

log = logging.getLogger(__name__)

TIMER_SET = "timer_set"
TIMER_FINISHED = "timer_finished"
TIMER_CANCELLED = "timer_cancelled"
TIMER_DISMISSED = "timer_dismissed"
MAX_NAME_CHARS = 40
FILE_VERSION = 1


class TimerListener(Protocol):
    """Told about every timer event (MQTT events) and every change of the list (retained state)."""

    def timer_event(self, kind: str, data: dict[str, Any]) -> None: ...

    def timers_changed(self, timers: list[dict[str, Any]]) -> None: ...


class TimerService:
    """Holds the timers; an async context manager that runs the schedule (and the ring) as named tasks,
    cancelled and awaited on exit."""

    def __init__(self, settings: TimersSettings, path: Path | None, *,
                 listeners: Sequence[TimerListener] = (), post: Callable[[CoreEvent], None] | None = None,
                 clock: Callable[[], float] = time.time, poll_s: float = 1.0) -> None:
        self._settings = settings
        self._path = path
        self._listeners = tuple(listeners)
        self._post = post
        self._clock = clock
        self._poll_s = poll_s
        self._timers: dict[str, Timer] = {}
        self._tasks = TaskSet("timers")
        self._wakeup = asyncio.Event()
        self._entered = False

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        self._restore()
        self._entered = True
        self._tasks.spawn(self._schedule(), "timers:schedule")
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._entered = False
        await self._tasks.aclose()

    # ------------------------------------------------------------------ queries

    @property
    def ringing(self) -> bool:
        return any(t.ringing_since is not None for t in self._timers.values())

    def timers(self) -> list[Timer]:
        """All timers, soonest first (ringing ones included)."""
        return sorted(self._timers.values(), key=lambda t: t.ends_at)

    def snapshot(self) -> list[dict[str, Any]]:
        """The retained ``timers`` state: each timer with its remaining seconds."""
        now = self._clock()
        return [t.public(now) for t in self.timers()]

    def now(self) -> float:
        return self._clock()

    # ------------------------------------------------------------------ changes (the tools call these)

    def set(self, seconds: float, name: str | None = None) -> Timer:
        """Start a timer. Raises ToolError (written for the model) when it cannot."""
        limit = self._settings.max_duration_s
        if not 1 <= seconds <= limit:
            raise ToolError(f"A timer must last between 1 second and {spoken_duration(limit)}; "
                            f"you asked for {spoken_duration(seconds)}. No timer was set.")
        if len(self._timers) >= self._settings.max_timers:
            raise ToolError(f"There are already {len(self._timers)} timers, the most allowed. "
                            "Cancel one first. No timer was set.")
        clean = " ".join((name or "").split())
        if len(clean) > MAX_NAME_CHARS:
            raise ToolError(f"The name is too long (at most {MAX_NAME_CHARS} characters). No timer was set.")
        now = self._clock()
        if clean:
            same = self._by_name(clean)
            if same is not None:
                raise ToolError(f"A timer named {same.name!r} is already running with "
                                f"{spoken_duration(same.remaining(now))} left. Cancel it first or choose "
                                "another name. No timer was set.")
            label = clean
        else:
            label = base = duration_label(seconds)
            n = 2
            while self._by_name(label) is not None:
                label = f"{base} {n}"
                n += 1
        timer = Timer(id=secrets.token_hex(4), name=label, named=bool(clean), duration_s=float(seconds),
                      ends_at=now + seconds)
        self._timers[timer.id] = timer
        self._save()
        log.info("timer %r set for %s", timer.name, spoken_duration(seconds))
        self._event(TIMER_SET, {"id": timer.id, "name": timer.name, "duration_s": round(seconds),
                                "ends_at": local_iso(timer.ends_at)})
        self._changed()
        self._wakeup.set()
        return timer

    def cancel(self, name: str | None = None, *, everything: bool = False) -> list[Timer]:
        """Cancel the timer called ``name`` (or the only one; or all). Raises ToolError when there is
        nothing to cancel or the name is ambiguous."""
        if not self._timers:
            raise ToolError("There are no timers to cancel.")
        if everything:
            chosen = self.timers()
        elif name and name.strip():
            found = self._match(name)
            if found is None:
                raise ToolError(f"There is no timer called {name.strip()!r}. The timers are: "
                                f"{self._names()}.")
            chosen = [found]
        elif len(self._timers) == 1:
            chosen = self.timers()
        else:
            raise ToolError(f"There are {len(self._timers)} timers: {self._names()}. Say which one to cancel, "
                            "or cancel all.")
        now = self._clock()
        was_ringing = self.ringing
        for timer in chosen:
            del self._timers[timer.id]
            log.info("timer %r cancelled", timer.name)
            self._event(TIMER_CANCELLED, {"id": timer.id, "name": timer.name,
                                          "remaining_s": round(timer.remaining(now))})
        self._save()
        if was_ringing and not self.ringing:
            self._quiet()
        self._changed()
        return chosen

    def dismiss(self, reason: str) -> bool:
        """Stop the ring: every ringing timer is done. Returns False when nothing was ringing."""
        ringing = [t for t in self.timers() if t.ringing_since is not None]
        if not ringing:
            return False
        for timer in ringing:
            del self._timers[timer.id]
        self._save()
        self._quiet()
        log.info("timer ring stopped (%s): %s", reason, ", ".join(t.name for t in ringing))
        self._event(TIMER_DISMISSED, {"ids": [t.id for t in ringing], "names": [t.name for t in ringing],
                                      "reason": reason})
        self._changed()
        return True

    def check(self) -> None:
        """Ring every timer whose time has come (the schedule calls this; so may tests)."""
        now = self._clock()
        due = [t for t in self.timers() if t.ringing_since is None and t.ends_at <= now]
        if not due:
            return
        for timer in due:
            timer.ringing_since = now
            late = now - timer.ends_at
            log.info("timer %r finished%s", timer.name, f" ({late:.0f} s late)" if late >= 1 else "")
            data: dict[str, Any] = {"id": timer.id, "name": timer.name, "duration_s": round(timer.duration_s)}
            if late >= 1:
                data["late_s"] = round(late)
            self._event(TIMER_FINISHED, data)
        self._save()
        self._changed()
        if self._post is not None:
            self._post(TimersRinging(tuple(t.name for t in self.timers() if t.ringing_since is not None)))

    # ------------------------------------------------------------------ internals

    def _by_name(self, name: str) -> Timer | None:
        key = name.casefold()
        return next((t for t in self._timers.values() if t.name.casefold() == key), None)

    def _match(self, name: str) -> Timer | None:
        """Exact name (any case), else the only timer whose name contains it ("pasta" → "pasta timer")."""
        exact = self._by_name(name.strip())
        if exact is not None:
            return exact
        key = name.strip().casefold()
        partial = [t for t in self._timers.values() if key in t.name.casefold()]
        return partial[0] if len(partial) == 1 else None

    def _names(self) -> str:
        return ", ".join(repr(t.name) for t in self.timers())

    def _event(self, kind: str, data: dict[str, Any]) -> None:
        for listener in self._listeners:
            try:
                listener.timer_event(kind, data)
            except Exception:
                log.exception("timer listener failed on %s", kind)

    def _changed(self) -> None:
        snapshot = self.snapshot()
        for listener in self._listeners:
            try:
                listener.timers_changed(snapshot)
            except Exception:
                log.exception("timer listener failed")

    def _save(self) -> None:
        if self._path is not None:
            save_json(self._path, {"version": FILE_VERSION, "timers": [t.to_json() for t in self.timers()]})

    def _restore(self) -> None:
        if self._path is None:
            return
        data = load_json(self._path)
        if data is None:
            return
        raw = data.get("timers") if isinstance(data, dict) else None
        if not isinstance(raw, list):
            log.warning("%s has no timer list; ignoring it", self._path)
            return
        now = self._clock()
        changed = False
        for item in raw:
            try:
                timer = Timer.from_json(item)
            except ValueError as exc:
                log.warning("%s: skipping a timer: %s", self._path, exc)
                changed = True
                continue
            overdue = now - timer.ends_at
            if overdue > self._settings.missed_ring_s:
                log.info("timer %r finished %.0f s ago while the speaker was off; reported, not rung",
                         timer.name, overdue)
                self._event(TIMER_FINISHED, {"id": timer.id, "name": timer.name,
                                             "duration_s": round(timer.duration_s), "late_s": round(overdue),
                                             "missed": True})
                changed = True
                continue
            timer.ringing_since = None  # due ones (and ones that were ringing) ring again on the first check
            self._timers[timer.id] = timer
        if self._timers:
            log.info("restored %d timer(s) from %s", len(self._timers), self._path)
        if changed:
            self._save()
        self._changed()

    async def _schedule(self) -> None:
        while True:
            self.check()
            delay = self._poll_s
            pending = [t.ends_at for t in self._timers.values() if t.ringing_since is None]
            if pending:
                delay = min(delay, max(min(pending) - self._clock(), 0.01))
            self._wakeup.clear()
            try:
                async with asyncio.timeout(delay):
                    await self._wakeup.wait()
            except TimeoutError:
                pass

    def _quiet(self) -> None:
        if self._post is not None:
            self._post(TimersQuiet())
