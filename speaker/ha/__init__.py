"""The speaker as a device over MQTT, with or without Home Assistant: retained state, JSON events and
commands under ``<base_topic>/<site_id>/…`` (``service``: commands in, ``observer``: the core's outputs
out, ``commands``), and Home Assistant MQTT discovery (``discovery``; ``remove_discovery`` for the
uninstall script). What the device remembers locally is ``speaker.device``'s."""
