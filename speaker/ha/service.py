"""The speaker as a device over MQTT (with or without Home Assistant): the hub that ties the state
publisher, the command subscription, discovery, persisted device settings, timers and feedback sounds
to the runner.

``DeviceService`` is an async context manager (entered after the MQTT connection, left before it).
While open it runs three named tasks, cancelled and awaited on exit: the publisher, the command loop
and the midnight check of today's cost. Commands wait until the runner runs (``runner_started``,
signalled by the runner opening its audio source), because they dispatch into it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from types import TracebackType
from typing import Any, Protocol, Self

from speaker.audio.format import AudioFormat
from speaker.audio.ports import AudioSource
from speaker.config.schema import Settings
from speaker.core.events import Announce, CoreEvent, SetMuted, StartConversation, Stop
from speaker.ha import commands as C
from speaker.ha.cost import CostToday
from speaker.ha.discovery import discovery_messages, wake_options
from speaker.ha.observer import DeviceObserver
from speaker.ha.persist import DeviceStore
from speaker.ha.publisher import Publisher
from speaker.ha.toolwatch import Executes, WatchedTools
from speaker.ha.topics import DeviceTopics
from speaker.ha.wake import WakeFilter
from speaker.listen.events import WakeDetected
from speaker.mqtt.connection import MqttMessage, Subscription
from speaker.mqtt.port import MqttPort
from speaker.sounds import PREANNOUNCE, THINKING, TIMER
from speaker.timers.service import TimerService
from speaker.tools.base import ToolOutcome

log = logging.getLogger(__name__)

MAX_PENDING_COMMANDS = 100
DAY_CHECK_S = 30.0
BUSY_STATES = frozenset({"listening", "thinking", "speaking"})


class SpeakerControl(Protocol):
    """What the device needs of the runner."""

    def dispatch(self, event: CoreEvent) -> None: ...

    def play_sound(self, name: str, *, blank_mic: bool = True) -> float: ...


class SinkControl(Protocol):
    """What the device needs of the speaker sink: its volume and whether audio is queued."""

    @property
    def written_ms(self) -> float: ...

    @property
    def played_ms(self) -> float: ...

    @property
    def volume(self) -> int: ...

    def set_volume(self, percent: int) -> None: ...


class DeviceService:
    """See the module docstring. ``mqtt`` None (or ``home.enabled: false``) keeps the local parts:
    persisted volume and mute, timers and their ring, feedback sounds."""

    def __init__(self, settings: Settings, mqtt: MqttPort | None, sink: SinkControl, *,
                 timers: TimerService | None = None, wake: WakeFilter | None = None,
                 clock: Callable[[], float] = time.time, day_check_s: float = DAY_CHECK_S) -> None:
        self.settings = settings
        self._mqtt = mqtt if settings.home.enabled else None
        self._sink = sink
        self.timers = timers
        self.wake = wake
        self._clock = clock
        self._day_check_s = day_check_s
        self.topics = DeviceTopics.from_settings(settings.mqtt)
        self.store = DeviceStore(settings.state_dir / "device.json")
        self.cost = CostToday(self.store, clock)
        self.publisher = Publisher(self._mqtt)
        self.observer = DeviceObserver(self.publisher, self.topics, self.cost, settings.realtime, wall=clock,
                                       on_state=self._state_changed, on_announce=self._announce_started)
        self.control: SpeakerControl | None = None
        self.wake_options = wake_options(settings)
        self._running = asyncio.Event()
        self._commands: asyncio.Queue[MqttMessage] = asyncio.Queue(MAX_PENDING_COMMANDS)
        self._preannounce: dict[str, bool] = {}
        self._subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_state = "idle"
        if timers is not None:
            timers.listeners.append(self)
            if timers.ringer is None:
                timers.ringer = self
        if wake is not None:
            wake.intercept = self._wake_heard

    # ------------------------------------------------------------------ lifecycle

    def attach(self, control: SpeakerControl) -> None:
        """The runner, once it exists (it is built after the tools and observers)."""
        self.control = control

    async def __aenter__(self) -> Self:
        state = self.store.state
        if state.volume is not None:
            self._sink.set_volume(state.volume)
        self._apply_wake(state.wake_word)
        if self.settings.home.discovery:
            for topic, payload in discovery_messages(self.settings):
                self.publisher.retain(topic, payload)
        self.publisher.retain(self.topics.state, "muted" if state.muted else "idle")
        self.publisher.retain(self.topics.volume, str(self._sink.volume))
        self.observer.publish_cost()
        self.publisher.retain(self.topics.timers, self.timers.snapshot() if self.timers is not None else [])
        if self._mqtt is not None:
            mqtt = self._mqtt
            self._subscriptions.append(mqtt.subscribe(self.topics.commands, self._command_arrived))
            # our own 'online' (published on every connect) is the cue to resend retained state
            self._subscriptions.append(mqtt.subscribe(self.topics.availability, self._availability))
            if self.settings.home.discovery:
                self._subscriptions.append(mqtt.subscribe(f"{self.settings.home.discovery_prefix}/status",
                                                          self._ha_status))
        self._spawn(self.publisher.run(), "device:publish")
        self._spawn(self._command_loop(), "device:commands")
        self._spawn(self._day_loop(), "device:cost-day")
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        for sub in self._subscriptions:
            sub.close()
        self._subscriptions.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("device task %s failed", task.get_name(), exc_info=task.exception())

    def runner_started(self) -> None:
        """The runner is running: apply the remembered mute and start taking commands."""
        if self._running.is_set():
            return
        self._running.set()
        if self.store.state.muted and self.control is not None:
            log.info("restoring mute from %s", self.store.path)
            self.control.dispatch(SetMuted(True))

    # ------------------------------------------------------------------ wiring helpers

    def watch_tools(self, tools: Executes) -> WatchedTools:
        """The tool runner for the Runner: ``tools`` with the thinking sound and tool_call events."""
        return WatchedTools(tools, slow_after_s=self.settings.feedback.thinking_after_s,
                            on_slow=self._tool_slow, on_outcome=self._tool_done)

    def signal_on_open(self, source: AudioSource) -> AudioSource:
        """``source`` wrapped so that the runner opening it calls ``runner_started``."""
        return _OpenSignal(source, self.runner_started)

    # ------------------------------------------------------------------ device settings

    def set_volume(self, level: int) -> None:
        """Set, remember and publish the speaker volume (the volume command and the volume tool)."""
        self._sink.set_volume(level)
        self.store.state.volume = level
        self.store.save()
        self.publisher.retain(self.topics.volume, str(self._sink.volume))

    def select_wake(self, name: str) -> None:
        self.store.state.wake_word = name
        self.store.save()
        self._apply_wake(name)

    def _apply_wake(self, name: str | None) -> None:
        options = self.wake_options
        choice = name if name in options else options[0]
        if self.wake is not None:
            self.wake.select(None if choice == C.ALL_WAKE_WORDS else frozenset({choice}))
        self.publisher.retain(self.topics.wake_word, choice)

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
            command = C.parse_command(name, payload, wake_options=self.wake_options)
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
        if isinstance(command, C.Volume):
            self.set_volume(command.level)
            return
        if isinstance(command, C.SelectWake):
            self.select_wake(command.name)
            return
        control = self.control
        if control is None:
            raise RuntimeError("the runner is not attached")
        match command:
            case C.Mute(muted=muted):
                control.dispatch(SetMuted(muted))  # remembered when the state says so
            case C.StopAll():
                if self.timers is not None:
                    self.timers.dismiss("stop")
                control.dispatch(Stop("stop command"))
            case C.Say(text=text, preannounce=preannounce):
                self._preannounce.pop(text, None)
                self._preannounce[text] = preannounce
                while len(self._preannounce) > 20:
                    del self._preannounce[next(iter(self._preannounce))]
                control.dispatch(Announce(text))
            case C.Ask(instructions=instructions, ask_id=ask_id):
                control.dispatch(StartConversation(instructions, ask_id))

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
            if self.cost.roll():
                self.observer.publish_cost()

    # ------------------------------------------------------------------ observer callbacks

    def _state_changed(self, state: str) -> None:
        # mute is remembered from what the core reports, whoever asked for it
        muted = state == "muted"
        if muted != self.store.state.muted and (muted or self._last_state == "muted"):
            self.store.state.muted = muted
            self.store.save()
        self._last_state = state

    def _announce_started(self, text: str) -> None:
        if self._preannounce.pop(text, True) and self.control is not None:
            self.control.play_sound(PREANNOUNCE)

    # ------------------------------------------------------------------ tools

    def _tool_slow(self, name: str) -> None:
        quiet = self._sink.written_ms - self._sink.played_ms < 50
        if quiet and self.control is not None and self.observer.state in BUSY_STATES:
            self.control.play_sound(THINKING)

    def _tool_done(self, outcome: ToolOutcome) -> None:
        data: dict[str, Any] = {"name": outcome.name, "ok": outcome.ok, "seconds": round(outcome.seconds, 3)}
        if not outcome.ok:
            try:
                error = json.loads(outcome.output).get("error")
            except (ValueError, AttributeError):
                error = None
            if isinstance(error, str):
                data["error"] = error[:300]
        self.observer.event("tool_call", data)

    # ------------------------------------------------------------------ timers (TimerListener, Ringer)

    def timer_event(self, kind: str, data: dict[str, Any]) -> None:
        self.observer.event(kind, data)

    def timers_changed(self, timers: list[dict[str, Any]]) -> None:
        self.publisher.retain(self.topics.timers, timers)

    def ring(self) -> float:
        return self.control.play_sound(TIMER, blank_mic=False) if self.control is not None else 0.0

    def silence(self) -> None:
        if self.control is not None and not self.busy():
            self.control.dispatch(Stop("timer dismissed"))  # idle: this only clears the speaker

    def busy(self) -> bool:
        return self.observer.state in BUSY_STATES

    def _wake_heard(self, detection: WakeDetected) -> bool:
        if self.timers is not None and self.timers.ringing:
            log.info("wake word %s stops the ringing timer", detection.model)
            self.timers.dismiss("wake")
            return True
        return False


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
