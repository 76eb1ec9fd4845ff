"""Function tools the model may call: the registry (base), argument validation (schema), tool packs
of MQTT device tools (packs, templates, mqtt_tool), built-ins (builtin) and ``build_tools`` (loader)."""

from speaker.tools.base import Tool, ToolOutcome, ToolRegistry, ToolSpec
from speaker.tools.builtin import BuiltinHost
from speaker.tools.loader import build_tools, load_packs
from speaker.tools.schema import check_function_tool, validate_arguments

__all__ = ["BuiltinHost", "Tool", "ToolOutcome", "ToolRegistry", "ToolSpec", "build_tools", "check_function_tool",
           "load_packs", "validate_arguments"]
