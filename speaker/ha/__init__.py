"""The speaker as a device over MQTT, with or without Home Assistant: retained state, JSON events and
commands under ``<base_topic>/<site_id>/…`` (``service``, ``observer``, ``commands``), Home Assistant
MQTT discovery (``discovery``; ``remove_discovery`` for the uninstall script), and the device settings
it remembers in ``state_dir`` (``persist``, ``cost``)."""
