"""Multi-room arbitration: several speakers on one broker, one answer per wake word.

``arbiter`` decides (sans-I/O), ``level`` measures how loud the wake word was, ``wire`` is the JSON
on the broker, ``mqtt`` runs an arbiter over an MQTT connection, ``calibrate`` helps set the
per-device offset, ``bench`` simulates many speakers on one broker.
"""
