"""Settings of ``home:``: the speaker as a device on MQTT and in Home Assistant."""

from __future__ import annotations

from pydantic import field_validator

from speaker.config.section import Section


class HomeSettings(Section):
    """The speaker as a device on MQTT: state, events and commands under <base_topic>/<site_id>/…, and
    Home Assistant MQTT discovery (harmless without Home Assistant)."""

    enabled: bool = True
    """Publish state and events and accept commands (needs mqtt.enabled)."""
    discovery: bool = True
    """Publish Home Assistant MQTT discovery, so the speaker appears as a device with its entities."""
    discovery_prefix: str = "homeassistant"
    """Home Assistant's discovery prefix (the MQTT integration's setting)."""
    device_name: str | None = None
    """The device's name in Home Assistant; null = 'Speaker <site_id>'."""

    @field_validator("discovery_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or any(c in value for c in "#+\0") or value.startswith("/") or value.endswith("/"):
            raise ValueError("must be a topic without '#', '+', NUL or leading/trailing '/'")
        return value
