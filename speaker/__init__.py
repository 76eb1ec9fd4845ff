"""The room speaker: local wake word, OpenAI Realtime conversation, MQTT and MCP tools."""

__version__ = "0.1.0"
