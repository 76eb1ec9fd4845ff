"""The runner's side of multi-room arbitration: carries out the core's ``Claim``/``Release`` actions over
``RoomsLink`` and posts the verdicts back to the core as ``Arbitrated`` events. It decides nothing (the
arbiter ranks the claims, the core decides what a verdict means for the conversation).

Owned by ``speaker.app``'s exit stack (entered after the MQTT connection, left before it). While open
it runs named tasks: one per claim waiting for its verdict, and ``rooms:later`` for decisions about
earlier wakes (a takeover, a yield). It also serves the Home Assistant switch "take part in
multi-room" (``<base>/<site>/rooms/take_part/set``; its state is the retained presence), remembered in
the device store.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Self

from speaker.config.schema import Settings
from speaker.core import actions as A
from speaker.core.events import Arbitrated, CoreEvent
from speaker.device.store import DeviceStore
from speaker.mqtt.connection import Subscription
from speaker.mqtt.inbox import MqttMessage
from speaker.mqtt.port import MqttPort
from speaker.rooms.arbiter import Proceed, StandDown, Yield
from speaker.rooms.clock import Clock
from speaker.rooms.level import measure
from speaker.rooms.mqtt import RoomsLink, WakeInfo
from speaker.tasks import TaskSet

log = logging.getLogger(__name__)

ON = {"on", "true", "1", "yes"}
OFF = {"off", "false", "0", "no"}


def take_part_topic(settings: Settings) -> str:
    """Where the 'take part in multi-room' switch's commands arrive."""
    return f"{settings.mqtt.base_topic}/{settings.mqtt.site_id}/rooms/take_part/set"


class RoomsPort:
    """See the module docstring. ``store`` remembers the switch across restarts (None: not at all)."""

    def __init__(self, mqtt: MqttPort, settings: Settings, post: Callable[[CoreEvent], None],
                 store: DeviceStore | None = None, *, clock: Clock | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.link = RoomsLink(mqtt, settings.rooms, base_topic=settings.mqtt.base_topic,
                              site_id=settings.mqtt.site_id, clock=clock)
        self._mqtt = mqtt
        self._post = post
        self._store = store
        self._wall = wall
        self._offset_db = settings.rooms.level_offset_db
        self._boot = uuid.uuid4().hex[:8]
        """Wake ids on the wire are unique across restarts: ``<boot>-<core wake id>``."""
        self._tasks = TaskSet("rooms")
        self._subscription: Subscription | None = None

    async def __aenter__(self) -> Self:
        await self.link.__aenter__()
        stored = self._store.state.rooms_take_part if self._store is not None else None
        if stored is not None and stored != self.link.arbiter.take_part:
            log.info("rooms: restoring 'take part' = %s", stored)
            self.link.set_take_part(stored)
        self._subscription = self._mqtt.subscribe(take_part_topic(self.settings), self._switch)
        self._tasks.spawn(self._later(), "rooms:later")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._subscription is not None:
            self._subscription.close()
        await self._tasks.aclose()
        await self.link.__aexit__(exc_type, exc, tb)

    # ------------------------------------------------------------------ the runner's actions

    def claim(self, action: A.Claim) -> None:
        """Measure the wake word's level, claim it; the verdict is posted as ``Arbitrated``."""
        detected_at = self._wall()
        self._tasks.spawn(self._arbitrate(action, detected_at), f"rooms:claim-{action.wake_id}")

    def release(self, wake_id: str) -> None:
        self._tasks.spawn(self.link.release(self._wire_id(wake_id)), f"rooms:release-{wake_id}")

    def set_take_part(self, take_part: bool) -> None:
        """The switch: announced in the retained presence and remembered."""
        self.link.set_take_part(take_part)
        if self._store is not None and self._store.state.rooms_take_part != take_part:
            self._store.state.rooms_take_part = take_part
            self._store.save()
        log.info("rooms: %s in multi-room arbitration", "taking part" if take_part else "not taking part")

    # ------------------------------------------------------------------ internals

    def _wire_id(self, wake_id: str) -> str:
        return f"{self._boot}-{wake_id}"

    def _core_id(self, wire_id: str) -> str | None:
        boot, _, wake_id = wire_id.partition("-")
        return wake_id if boot == self._boot and wake_id else None

    async def _arbitrate(self, action: A.Claim, detected_at: float) -> None:
        try:
            level = measure(action.segment, self._offset_db)
            verdict = await self.link.arbitrate(WakeInfo(self._wire_id(action.wake_id), action.model, detected_at,
                                                         action.score, level))
        except Exception:  # never leave the core waiting: answer alone
            log.exception("rooms: arbitration failed; answering")
            self._post(Arbitrated(action.wake_id, proceed=True))
            return
        match verdict:
            case Proceed(takeover=takeover):
                self._post(Arbitrated(action.wake_id, proceed=True, takeover=takeover,
                                      winner=self.settings.mqtt.site_id))
            case StandDown(winner=winner):
                log.info("rooms: %s heard wake word %s louder; staying quiet", winner, action.model)
                self._post(Arbitrated(action.wake_id, proceed=False, winner=winner))

    async def _later(self) -> None:
        while True:
            decision = await self.link.next_decision()
            wake_id = self._core_id(decision.wake_id)
            if wake_id is None:
                continue
            match decision:
                case Proceed(takeover=takeover):
                    log.info("rooms: the answering speaker gave up wake %s; taking over", wake_id)
                    self._post(Arbitrated(wake_id, proceed=True, takeover=takeover,
                                          winner=self.settings.mqtt.site_id))
                case Yield(winner=winner):
                    log.info("rooms: %s heard wake %s louder after all; yielding", winner, wake_id)
                    self._post(Arbitrated(wake_id, proceed=False, winner=winner))

    def _switch(self, message: MqttMessage) -> None:
        if message.retain:
            log.warning("rooms: a retained 'take part' command is ignored; publish without the retain flag")
            return
        text = message.payload.decode("utf-8", errors="replace").strip().lower()
        if text in ON:
            self.set_take_part(True)
        elif text in OFF:
            self.set_take_part(False)
        else:
            log.warning("rooms: 'take part' expects ON or OFF, not %r", text[:40])
