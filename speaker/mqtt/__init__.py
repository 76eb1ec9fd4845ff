"""MQTT: one reconnecting connection (availability, last will, retained-state cache) and the topic
rules every publish obeys."""

from speaker.mqtt.connection import MqttConnection, Subscription
from speaker.mqtt.errors import MqttRefused, MqttUnavailable, MqttUncertain
from speaker.mqtt.inbox import MqttMessage
from speaker.mqtt.port import MqttPort

__all__ = ["MqttConnection", "MqttMessage", "MqttPort", "MqttRefused", "MqttUnavailable", "MqttUncertain",
           "Subscription"]
