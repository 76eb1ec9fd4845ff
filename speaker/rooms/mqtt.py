"""The arbiter on a real broker: ``RoomsLink`` turns MQTT messages into arbiter events and carries out
its decisions (publishes claims, releases, 'answered' events; hands verdicts to the runner).

Usage (the runner's side)::

    async with RoomsLink(mqtt, settings.rooms, base_topic=..., site_id=...) as rooms:
        verdict = await rooms.arbitrate(WakeInfo(wake_id, model, time.time(), score, level))
        match verdict:
            case Proceed(): ...   # chime, listening state, open the session
            case StandDown(): ... # stay completely quiet
        # concurrently, in a named task: later decisions about past wakes
        while True:
            match await rooms.next_decision():
                case Proceed(takeover=True): ...   # the winner gave up: answer from the kept audio
                case Yield(): ...                  # a better claim came late: end our session quietly
        # our session failed to open after Proceed:
        await rooms.release(wake_id)

Incoming messages are handled in the connection's reader (never raising); publishes go through one
writer task in order. The broker's state is read before each wake and polled, so a speaker whose
broker is down decides alone at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from speaker.config.rooms import RoomsSettings
from speaker.mqtt.connection import Subscription
from speaker.mqtt.errors import MqttUnavailable, MqttUncertain
from speaker.mqtt.inbox import MqttMessage
from speaker.mqtt.port import MqttPort
from speaker.rooms import wire
from speaker.rooms.arbiter import (
    Arbiter,
    Availability,
    BrokerState,
    ClaimSeen,
    Event,
    OwnRelease,
    OwnWake,
    Participation,
    Proceed,
    PublishClaim,
    PublishOutcome,
    PublishRelease,
    ReleaseSeen,
    SetTakePart,
    StandDown,
    Tick,
    Yield,
)
from speaker.rooms.clock import Clock, LoopClock
from speaker.rooms.level import Level

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WakeInfo:
    """What the runner knows about its own wake when it asks."""

    wake_id: str
    wake_word: str
    detected_at: float
    """``time.time()`` at the detection."""
    score: float
    level: Level
    """``speaker.rooms.level.measure(wake_segment(preroll), settings.rooms.level_offset_db)``."""


Verdict = Proceed | StandDown
Later = Proceed | Yield


class RoomsLink:
    """One speaker's arbitration over an MQTT connection (see the module docstring)."""

    def __init__(
        self,
        mqtt: MqttPort,
        settings: RoomsSettings,
        *,
        base_topic: str,
        site_id: str,
        clock: Clock | None = None,
        delivery_delay: Callable[[], float] | None = None,
        watch_interval_s: float = 0.25,
        verdict_timeout_s: float = 5.0,
    ) -> None:
        """``clock`` times the windows (tests pass a ``ManualClock``); ``delivery_delay`` delays each
        incoming message by that many seconds (the bench simulates a slow broker with it);
        ``verdict_timeout_s`` bounds ``arbitrate`` should the timer ever fail (then we answer)."""
        self.arbiter = Arbiter(site_id, settings)
        self.site = site_id
        self.topics = wire.Topics(base_topic)
        self._mqtt = mqtt
        self._clock = clock or LoopClock()
        self._delay = delivery_delay
        self._watch_s = watch_interval_s
        self._verdict_timeout_s = verdict_timeout_s
        self._bad = wire.RateLimitedLog()
        self._verdicts: dict[str, asyncio.Future[Verdict]] = {}
        self._later: asyncio.Queue[Later] = asyncio.Queue()
        self._outbox: asyncio.Queue[tuple[str, str, bool]] = asyncio.Queue()
        self._changed = asyncio.Event()
        self._progress = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._subs: list[Subscription] = []
        self._timers: set[asyncio.TimerHandle] = set()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        for topic_filter in self.topics.filters():
            self._subs.append(self._mqtt.subscribe(topic_filter, self._on_message))
        self._tasks = [
            asyncio.create_task(self._timer(), name=f"rooms-timer {self.site}"),
            asyncio.create_task(self._writer(), name=f"rooms-writer {self.site}"),
            asyncio.create_task(self._watch(), name=f"rooms-watch {self.site}"),
        ]
        self._sync_broker()
        if self._mqtt.connected:
            for topic_filter in self.topics.filters():
                with contextlib.suppress(Exception):
                    await self._mqtt.ensure_subscribed(topic_filter)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for handle in self._timers:
            handle.cancel()
        for sub in self._subs:
            sub.close()
        for future in self._verdicts.values():
            future.cancel()

    # ------------------------------------------------------------------ the runner's side

    async def arbitrate(self, wake: WakeInfo) -> Verdict:
        """Proceed or stand down for our own new wake (waits at most the claim window)."""
        self._sync_broker()
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._verdicts[wake.wake_id] = future
        try:
            self._feed(OwnWake(wake.wake_id, wake.wake_word, wake.detected_at, wake.level.calibrated, wake.score,
                               self._clock.now(), wake.level.calibrated_peak))
            try:
                async with asyncio.timeout(self._verdict_timeout_s):
                    return await asyncio.shield(future)
            except TimeoutError:
                log.warning("rooms: no decision for wake %s in time; answering", wake.wake_id)
                return Proceed(wake.wake_id, alone=True)
        finally:
            self._verdicts.pop(wake.wake_id, None)

    async def next_decision(self) -> Later:
        """The next decision about an earlier wake: take over (``Proceed``) or ``Yield``."""
        return await self._later.get()

    async def release(self, wake_id: str) -> None:
        """Our session for ``wake_id`` failed to open: hand the floor to the runner-up."""
        self._feed(OwnRelease(wake_id, self._clock.now()))

    def set_take_part(self, take_part: bool) -> None:
        """The 'take part' switch (from Home Assistant): announced in our retained presence."""
        self._feed(SetTakePart(take_part, self._clock.now()))
        self._publish_presence()

    @property
    def dropped(self) -> int:
        """How many bad messages were dropped so far."""
        return self._bad.dropped

    async def wait_until(self, predicate: Callable[[Arbiter], bool], timeout_s: float = 10.0) -> None:
        """Until ``predicate(arbiter)`` holds, re-checked after every event (raises ``TimeoutError``)."""
        async with asyncio.timeout(timeout_s):
            while not predicate(self.arbiter):
                self._progress.clear()
                await self._progress.wait()

    # ------------------------------------------------------------------ events in

    def _feed(self, event: Event) -> None:
        for decision in self.arbiter.handle(event):
            match decision:
                case PublishClaim(claim=claim):
                    self._outbox.put_nowait((self.topics.claim(self.site), wire.claim_payload(claim), False))
                case PublishRelease(site=site, wake_id=wake_id):
                    self._outbox.put_nowait((self.topics.release(site), wire.release_payload(site, wake_id), False))
                case PublishOutcome(outcome=outcome):
                    self._outbox.put_nowait((self.topics.answered(self.site),
                                             wire.outcome_payload(self.site, outcome), False))
                case Proceed() | StandDown():
                    future = self._verdicts.get(decision.wake_id)
                    if future is not None and not future.done():
                        future.set_result(decision)
                    elif isinstance(decision, Proceed) and decision.takeover:
                        self._later.put_nowait(decision)
                    # else: the verdict for a wake that ``arbitrate`` already answered (timed out)
                case Yield():
                    self._later.put_nowait(decision)
        self._changed.set()
        self._progress.set()

    def _on_message(self, message: MqttMessage) -> None:
        if self._delay is None:
            self._receive(message)
            return
        handle = asyncio.get_running_loop().call_later(max(0.0, self._delay()), self._receive_later, message)
        self._timers.add(handle)

    def _receive_later(self, message: MqttMessage) -> None:
        now = asyncio.get_running_loop().time()
        self._timers = {h for h in self._timers if h.when() > now}
        self._receive(message)

    def _receive(self, message: MqttMessage) -> None:
        parsed = self.topics.parse(message.topic)
        if parsed is None:
            return
        site, kind = parsed
        now = self._clock.now()
        try:
            if kind == "availability":
                self._feed(Availability(site, wire.parse_availability(message.payload), now))
            elif kind == "presence":
                take_part = bool(message.payload) and wire.parse_presence(message.payload)
                self._feed(Participation(site, take_part, now))
            elif site == self.site:
                return  # our own claim or release, echoed back
            elif kind == "claim":
                self._feed(ClaimSeen(wire.parse_claim(site, message.payload), now))
            elif kind == "release":
                self._feed(ReleaseSeen(site, wire.parse_release(site, message.payload), now))
        except wire.BadMessage as exc:
            self._bad.drop(message.topic, str(exc))
        finally:
            self._progress.set()

    def _sync_broker(self) -> None:
        connected = self._mqtt.connected
        if connected != self.arbiter.connected:
            log.info("rooms: broker %s", "up: arbitrating with the other speakers" if connected
                     else "down: answering every wake alone")
            self._feed(BrokerState(connected, self._clock.now()))
            if connected:
                self._publish_presence()

    def _publish_presence(self) -> None:
        self._outbox.put_nowait((self.topics.presence(self.site), wire.presence_payload(self.arbiter.take_part),
                                 True))

    # ------------------------------------------------------------------ tasks

    async def _timer(self) -> None:
        while True:
            deadline = self.arbiter.deadline()
            self._changed.clear()
            if deadline is None:
                await self._changed.wait()
                continue
            sleep = asyncio.ensure_future(self._clock.sleep_until(deadline))
            changed = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait({sleep, changed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (sleep, changed):
                    task.cancel()
                await asyncio.gather(sleep, changed, return_exceptions=True)
            if self._clock.now() >= deadline:
                self._feed(Tick(self._clock.now()))

    async def _writer(self) -> None:
        while True:
            topic, payload, retain = await self._outbox.get()
            try:
                await self._mqtt.publish(topic, payload, qos=1, retain=retain)
            except MqttUnavailable:
                self._sync_broker()
            except MqttUncertain as exc:
                log.info("rooms: %s may not have reached the broker: %s", topic, exc)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._watch_s)
            self._sync_broker()
