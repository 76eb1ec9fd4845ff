"""Where the speaker's state, events and commands live: ``<base_topic>/<site_id>/…``."""

from __future__ import annotations

from dataclasses import dataclass

from speaker.config.schema import MqttSettings


@dataclass(frozen=True)
class DeviceTopics:
    """The topic names of one speaker (``root`` is ``<base_topic>/<site_id>``)."""

    root: str

    @classmethod
    def from_settings(cls, mqtt: MqttSettings) -> DeviceTopics:
        return cls(f"{mqtt.base_topic}/{mqtt.site_id}")

    @property
    def state(self) -> str:
        return f"{self.root}/state"

    @property
    def availability(self) -> str:
        return f"{self.root}/availability"

    @property
    def volume(self) -> str:
        return f"{self.root}/volume"

    @property
    def cost_today(self) -> str:
        return f"{self.root}/cost_today"

    @property
    def timers(self) -> str:
        return f"{self.root}/timers"

    @property
    def wake_word(self) -> str:
        return f"{self.root}/wake_word"

    @property
    def budget(self) -> str:
        """Retained: the budget limits, the spend of the day and month and what is left."""
        return f"{self.root}/budget"

    @property
    def muted(self) -> str:
        """``ON``/``OFF``: the microphone mute as remembered (true while an announcement plays too)."""
        return f"{self.root}/muted"

    @property
    def last_reply(self) -> str:
        """The last reply's text, retained (``home.retain_last_reply``)."""
        return f"{self.root}/last_reply"

    @property
    def duplex(self) -> str:
        """Full or half duplex, and why (JSON, retained)."""
        return f"{self.root}/duplex"

    @property
    def problem(self) -> str:
        """Retained: the Realtime service's last fatal refusal, or none (the problem binary_sensor)."""
        return f"{self.root}/problem"

    @property
    def commands(self) -> str:
        """The one filter every command arrives on."""
        return f"{self.root}/cmd/+"

    def event(self, kind: str) -> str:
        return f"{self.root}/event/{kind}"

    def cmd(self, name: str) -> str:
        return f"{self.root}/cmd/{name}"

    def response(self, ask_id: str) -> str:
        return f"{self.root}/response/{ask_id}"

    def retained(self) -> tuple[str, ...]:
        """Every retained topic the speaker publishes (cleared by ``remove_discovery``)."""
        return (self.state, self.volume, self.cost_today, self.timers, self.wake_word, self.availability,
                self.budget, self.muted, self.last_reply, self.duplex, self.problem)
