"""Configuration: YAML files validated into frozen, typed settings."""

from speaker.config.loader import LoadedConfig, check_secrets, load_settings, masked_dump
from speaker.config.schema import Settings
from speaker.config.secret import Secret

__all__ = ["LoadedConfig", "Secret", "Settings", "check_secrets", "load_settings", "masked_dump"]
