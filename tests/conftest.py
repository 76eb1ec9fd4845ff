"""Shared fixtures: a real Mosquitto broker, a private PulseAudio server."""

pytest_plugins = ["tests.helpers.broker", "tests.helpers.pulse"]
