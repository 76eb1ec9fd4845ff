"""The speaker as a device over MQTT (with or without Home Assistant): discovery, the retained state,
the command subscription, and timer news. An adapter only: commands become core events posted to the
inbound queue (or device settings: volume, wake word), the core's outputs become MQTT through
``DeviceObserver``; it decides nothing about the conversation.

``DeviceService`` is an async context manager (entered after the MQTT connection, left before it).
While open it runs named tasks, cancelled and awaited on exit: the publisher, the command loop and the
midnight check of today's cost. Commands are taken once the runner is running (``runner_started``),
so none is lost while the daemon starts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Self

from speaker.audio.format import AudioFormat
from speaker.audio.ports import AudioSource
from speaker.config.schema import Settings
from speaker.core.events import Announce, CoreEvent, SetMuted, StartConversation, Stop
from speaker.device.controls import DeviceControls
from speaker.ha import commands as C
from speaker.ha.discovery import discovery_messages, withdrawn_topics
from speaker.ha.observer import DeviceObserver
from speaker.ha.publisher import Publisher
from speaker.ha.topics import DeviceTopics
from speaker.mqtt.connection import MqttMessage, Subscription
from speaker.mqtt.port import MqttPort
from speaker.tasks import TaskSet

log = logging.getLogger(__name__)

MAX_PENDING_COMMANDS = 100
DAY_CHECK_S = 30.0


class DeviceService:
    """See the module docstring. ``mqtt`` None (or ``home.enabled: false``) publishes nothing but keeps
    the local parts working."""

    def __init__(self, settings: Settings, mqtt: MqttPort | None, controls: DeviceControls,
                 post: Callable[[CoreEvent], None], *, clock: Callable[[], float] = time.time,
                 day_check_s: float = DAY_CHECK_S) -> None:
        self.settings = settings
        self._mqtt = mqtt if settings.home.enabled else None
        self.controls = controls
        self._post = post
        self._day_check_s = day_check_s
        self.topics = DeviceTopics.from_settings(settings.mqtt)
        self.publisher = Publisher(self._mqtt)
        # the core is told the spend only when a day or month budget needs it
        limited = settings.cost.daily_usd is not None or settings.cost.monthly_usd is not None
        self.observer = DeviceObserver(self.publisher, self.topics, controls, wall=clock, limits=settings.cost,
                                       spent=(lambda: post(controls.cost.budget_event())) if limited else None,
                                       retain_reply=settings.home.retain_last_reply)
        self._running = asyncio.Event()
        self._commands: asyncio.Queue[MqttMessage] = asyncio.Queue(MAX_PENDING_COMMANDS)
        self._subscriptions: list[Subscription] = []
        self._tasks = TaskSet("device")

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        controls = self.controls
        controls.restore()
        if self.settings.home.discovery:
            for topic, payload in discovery_messages(self.settings):
                self.publisher.retain(topic, payload)
            for topic in withdrawn_topics(self.settings):
                self.publisher.retain(topic, "")  # an entity this configuration leaves out
        self.publisher.retain(self.topics.state, "muted" if controls.muted else "idle")
        self.publisher.retain(self.topics.volume, str(controls.volume))
        self.publisher.retain(self.topics.wake_word, controls.select_wake(controls.store.state.wake_word,
                                                                          remember=False))
        self.publisher.retain(self.topics.timers, [])
        self.observer.publish_muted()
        if not self.settings.home.retain_last_reply:
            self.publisher.retain(self.topics.last_reply, "")  # forget a reply kept by an earlier run
        self.publisher.retain(self.topics.problem, controls.store.state.problem())  # the last one known
        self.observer.publish_cost()
        if controls.muted:
            log.info("restoring mute from %s", controls.store.path)
            self._post(SetMuted(True))
        if self._mqtt is not None:
            mqtt = self._mqtt
            self._subscriptions.append(mqtt.subscribe(self.topics.commands, self._command_arrived))
            # our own 'online' (published on every connect) is the cue to resend retained state
            self._subscriptions.append(mqtt.subscribe(self.topics.availability, self._availability))
            if self.settings.home.discovery:
                self._subscriptions.append(mqtt.subscribe(f"{self.settings.home.discovery_prefix}/status",
                                                          self._ha_status))
        self._tasks.spawn(self.publisher.run(), "device:publish")
        self._tasks.spawn(self._command_loop(), "device:commands")
        self._tasks.spawn(self._day_loop(), "device:cost-day")
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        for sub in self._subscriptions:
            sub.close()
        self._subscriptions.clear()
        await self._tasks.aclose()

    def runner_started(self) -> None:
        """The runner is running: start taking commands."""
        self._running.set()

    def signal_on_open(self, source: AudioSource) -> AudioSource:
        """``source`` wrapped so that the runner opening it calls ``runner_started``."""
        return _OpenSignal(source, self.runner_started)

    # ------------------------------------------------------------------ device settings

    def set_volume(self, level: int) -> None:
        """Set, remember and publish the speaker volume (the volume command and the volume tool)."""
        self.publisher.retain(self.topics.volume, str(self.controls.set_volume(level)))

    def select_wake(self, name: str) -> None:
        self.publisher.retain(self.topics.wake_word, self.controls.select_wake(name))

    # ------------------------------------------------------------------ commands

    def _command_arrived(self, message: MqttMessage) -> None:
        try:
            self._commands.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("MQTT: too many commands waiting; %s dropped", message.topic)

    async def _command_loop(self) -> None:
        await self._running.wait()
        while True:
            message = await self._commands.get()
            name = message.topic.rsplit("/", 1)[-1]
            self.handle_command(name, message.payload, retained=message.retain)

    def handle_command(self, name: str, payload: bytes, *, retained: bool = False) -> None:
        """Carry out one command; anything wrong is published on ``event/error`` (never raised)."""
        if retained:
            # a retained command would run again at every restart (and for every new subscriber)
            self._command_error(name, f"{name}: retained commands are ignored; publish without the retain flag")
            return
        try:
            command = C.parse_command(name, payload, wake_options=self.controls.wake_options)
        except C.CommandError as exc:
            self._command_error(name, str(exc))
            return
        log.info("command %s", name)
        try:
            self._execute(command)
        except Exception as exc:
            log.exception("command %s failed", name)
            self._command_error(name, f"{name}: failed ({type(exc).__name__})")

    def _execute(self, command: C.Command) -> None:
        match command:
            case C.Volume(level=level):
                self.set_volume(level)
            case C.SelectWake(name=name):
                self.select_wake(name)
            case C.Mute(muted=muted):
                self._post(SetMuted(muted))  # remembered when the state says so
            case C.StopAll():
                self._post(Stop("stop command"))
            case C.Say(text=text, preannounce=preannounce):
                self._post(Announce(text, preannounce))
            case C.Ask(instructions=instructions, ask_id=ask_id):
                self._post(StartConversation(instructions, ask_id))

    def _command_error(self, name: str, message: str) -> None:
        log.warning("MQTT command refused: %s", message)
        self.observer.event("error", {"message": message, "command": name, "source": "command"})

    def _availability(self, message: MqttMessage) -> None:
        if message.payload == b"online":
            self.publisher.snapshot()

    def _ha_status(self, message: MqttMessage) -> None:
        if message.payload.strip().lower() == b"online":
            log.info("Home Assistant is online; publishing discovery again")
            self.publisher.snapshot()

    async def _day_loop(self) -> None:
        while True:
            await asyncio.sleep(self._day_check_s)
            if self.controls.cost.roll():
                self.observer.publish_cost()

    # ------------------------------------------------------------------ timers (TimerListener)

    def timer_event(self, kind: str, data: dict[str, Any]) -> None:
        self.observer.event(kind, data)

    def timers_changed(self, timers: list[dict[str, Any]]) -> None:
        self.publisher.retain(self.topics.timers, timers)


class _OpenSignal:
    """An AudioSource that calls ``on_open`` once the runner has opened it."""

    def __init__(self, source: AudioSource, on_open: Callable[[], None]) -> None:
        self._source = source
        self._on_open = on_open
        self.format: AudioFormat = source.format

    async def __aenter__(self) -> Self:
        await self._source.__aenter__()
        self._on_open()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._source.__aexit__(et, e, tb)

    def frames(self) -> AsyncIterator[bytes]:
        return self._source.frames()
