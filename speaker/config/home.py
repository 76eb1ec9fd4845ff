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

    announce_when_muted: bool = True
    """Announcements (MQTT say, Home Assistant notify) are spoken while the microphone is muted: an
    announcement needs no microphone. false: a muted speaker refuses them (event/error)."""
    area: str | None = None
    """Home Assistant's suggested area for the device; null = the site id as words ('living_room' ->
    'Living room'); '' = none."""
    configuration_url: str | None = None
    """A link shown on the device page (http(s)://…, e.g. a web UI for the Pi); null = none."""
    retain_last_reply: bool = True
    """Keep the last reply's text retained on the broker (<root>/last_reply) so Home Assistant's 'Last
    reply' survives restarts. Privacy: anyone who may subscribe on the broker can read it; false keeps
    replies as events only (the sensor is unknown after a restart)."""

    @field_validator("configuration_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "homeassistant://")):
            raise ValueError("must start with http://, https:// or homeassistant://")
        return value

    @field_validator("discovery_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or any(c in value for c in "#+\0") or value.startswith("/") or value.endswith("/"):
            raise ValueError("must be a topic without '#', '+', NUL or leading/trailing '/'")
        return value
