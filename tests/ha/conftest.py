from tests.mqtt.fixtures import recorder

__all__ = ["recorder"]
