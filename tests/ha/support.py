"""Fakes and a harness for the device tests: the runner and the sink are fakes that record; MQTT is a real
Mosquitto broker."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speaker.config.schema import Settings
from speaker.core.events import CoreEvent
from speaker.device.controls import DeviceControls
from speaker.device.store import DeviceStore
from speaker.device.wake import WakeFilter
from speaker.ha.discovery import wake_options
from speaker.ha.service import DeviceService
from speaker.mqtt.connection import MqttConnection
from speaker.timers.service import TimerService
from tests.helpers.broker import Broker
from tests.mqtt.recorder import Recorder, Seen
from tests.timers.support import FakeClock

ROOT = "speaker/kitchen"


def settings_for(broker: Broker | None, state_dir: Path, **sections: Any) -> Settings:
    mqtt: dict[str, Any] = {"site_id": "kitchen", "reconnect_max_s": 1.0, "keepalive_s": 5}
    if broker is not None:
        mqtt.update(host=broker.host, port=broker.port)
    else:
        mqtt["enabled"] = False
    data: dict[str, Any] = {"mqtt": mqtt, "state_dir": str(state_dir)}
    data.update(sections)
    return Settings.model_validate(data)


class FakeControl:
    """Stands in for the core's inbound queue: records what the device and the timers post."""

    def __init__(self) -> None:
        self.events: list[CoreEvent] = []

    def post(self, event: CoreEvent) -> None:
        self.events.append(event)


class FakeSink:
    def __init__(self, volume: int = 80) -> None:
        self.written_ms = 0.0
        self.played_ms = 0.0
        self.volume = volume

    def set_volume(self, percent: int) -> None:
        self.volume = percent


class FakeEngine:
    """A wake engine that fires whatever the test queues."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.queued: list[Any] = []

    def process(self, pcm: bytes) -> list[Any]:
        out, self.queued = self.queued, []
        return out

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class Harness:
    device: DeviceService
    control: FakeControl
    sink: FakeSink
    clock: FakeClock
    timers: TimerService | None
    wake: WakeFilter | None
    extra: dict[str, Any] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def running_device(settings: Settings, *, clock: FakeClock | None = None, timers: bool = False,
                         wake_names: tuple[str, ...] = ("hey_jarvis",), sink: FakeSink | None = None,
                         ) -> AsyncIterator[Harness]:
    """A DeviceService on its own MQTT connection (when enabled), attached to fakes, with the runner
    'started'."""
    clock = clock or FakeClock()
    sink = sink or FakeSink()
    control = FakeControl()
    async with contextlib.AsyncExitStack() as stack:
        mqtt = None
        if settings.mqtt.enabled:
            mqtt = await stack.enter_async_context(MqttConnection(settings.mqtt, backoff_initial_s=0.05,
                                                                  publish_timeout_s=2.0))
            assert await mqtt.wait_connected(5)
        wake = WakeFilter(FakeEngine(wake_names))
        controls = DeviceControls(DeviceStore(settings.state_dir / "device.json"), sink, wake,
                                  wake_options(settings), wall=clock)
        device = DeviceService(settings, mqtt, controls, control.post, clock=clock)
        service = TimerService(settings.timers, settings.state_dir / "timers.json", listeners=[device],
                               post=control.post, clock=clock, poll_s=0.01) if timers else None
        await stack.enter_async_context(device)
        if service is not None:
            await stack.enter_async_context(service)
        device.runner_started()
        if mqtt is not None:  # commands published by the test must not race the subscription
            await mqtt.ensure_subscribed(device.topics.commands, 5)
        yield Harness(device, control, sink, clock, service, wake)


def payload(seen: Seen) -> Any:
    return json.loads(seen.payload)


async def message_on(recorder: Recorder, topic: str, predicate: Callable[[Any], bool] = lambda p: True,
                     within: float = 3.0) -> Seen:
    """The first message on ``topic`` whose (JSON or text) payload satisfies ``predicate``."""

    def matches(m: Seen) -> bool:
        if m.topic != topic:
            return False
        try:
            value: Any = json.loads(m.payload)
        except ValueError:
            value = m.text
        return predicate(value)

    return await recorder.wait_for(matches, within)
