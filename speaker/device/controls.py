"""The device settings a user changes at run time (volume, the active wake word) and what the speaker
remembers of them and of its state (mute, today's spend) in ``<state_dir>/device.json``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from speaker.core.state import State
from speaker.device.cost import CostToday
from speaker.device.store import DeviceStore
from speaker.device.wake import WakeFilter

log = logging.getLogger(__name__)

ALL_WAKE_WORDS = "all"


class VolumeControl(Protocol):
    @property
    def volume(self) -> int: ...

    def set_volume(self, percent: int) -> None: ...


class DeviceControls:
    def __init__(self, store: DeviceStore, sink: VolumeControl, wake: WakeFilter | None,
                 wake_options: Sequence[str], *, wall: Callable[[], float] = time.time) -> None:
        self.store = store
        self._sink = sink
        self._wake = wake
        self.wake_options = tuple(wake_options)
        self.cost = CostToday(store, wall)
        self._last_state = State.MUTED if store.state.muted else State.IDLE

    @property
    def volume(self) -> int:
        return self._sink.volume

    @property
    def muted(self) -> bool:
        return self.store.state.muted

    def restore(self) -> None:
        """Apply the remembered volume and wake word (mute is restored by posting SetMuted)."""
        if self.store.state.volume is not None:
            self._sink.set_volume(self.store.state.volume)
        self.select_wake(self.store.state.wake_word, remember=False)

    def set_volume(self, level: int) -> int:
        """Set and remember the speaker volume; returns the volume now in force."""
        self._sink.set_volume(level)
        self.store.state.volume = level
        self.store.save()
        return self._sink.volume

    def select_wake(self, name: str | None, *, remember: bool = True) -> str:
        """Choose which wake word may fire (one of ``wake_options``); returns the choice in force."""
        choice = name if name in self.wake_options else self.wake_options[0]
        if self._wake is not None:
            self._wake.select(None if choice == ALL_WAKE_WORDS else frozenset({choice}))
        if remember:
            self.store.state.wake_word = name
            self.store.save()
        return choice

    def state_changed(self, state: State) -> None:
        """Mute is remembered from what the core reports, whoever asked for it. An announcement plays
        whether or not the microphone is muted: it changes nothing that is remembered."""
        if state is State.ANNOUNCING:
            return
        muted = state is State.MUTED
        if muted != self.store.state.muted and (muted or self._last_state is State.MUTED):
            self.store.state.muted = muted
            self.store.save()
        self._last_state = state
