"""Settings of ``mqtt:``: the broker connection."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from speaker.config.secret import Secret
from speaker.config.section import Section


class MqttTls(Section):
    """TLS to the broker."""

    ca_file: Path | None = None
    """CA bundle that signed the broker's certificate."""
    cert_file: Path | None = None
    """Client certificate, for brokers that require one."""
    key_file: Path | None = None
    """The client certificate's key."""
    insecure: bool = False
    """Skip hostname verification (self-signed brokers on the LAN)."""


class MqttSettings(Section):
    """The MQTT broker: device tools publish here; state and events appear here."""

    enabled: bool = True
    """false: no broker at all (device tools are left out)."""
    host: str = "localhost"
    """Broker host name or address."""
    port: int = Field(default=1883, ge=1, le=65535)
    """Broker port (8883 is usual with TLS)."""
    username: str | None = None
    """Broker user, if it needs one."""
    password: Secret | None = None
    """From {env: …} or {file: …}."""
    tls: MqttTls | None = None
    """TLS settings; null = plain TCP."""
    client_id: str | None = None
    """Defaults to 'speaker-<site_id>'."""
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    """MQTT keepalive; the last will fires after about 1.5x this."""
    base_topic: str = "speaker"
    """State, events and commands live under <base_topic>/<site_id>/…"""
    site_id: str = "default"
    """One speaker per room: the room's name, used in topics and as the device name."""
    reconnect_max_s: float = Field(default=60.0, ge=1, le=3600)
    """Longest wait between reconnect attempts (jittered exponential backoff)."""

    @field_validator("base_topic", "site_id")
    @classmethod
    def _topic_part(cls, value: str) -> str:
        if not value or any(c in value for c in "#+\0") or value.startswith("/") or value.endswith("/"):
            raise ValueError("must be a plain topic level without '#', '+', NUL or leading/trailing '/'")
        return value
