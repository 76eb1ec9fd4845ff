from tests.mqtt.fixtures import connection, recorder

__all__ = ["connection", "recorder"]
