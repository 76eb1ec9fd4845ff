"""Building the tool registry from the settings: built-ins plus every tool pack in ``tools.packs``."""

from __future__ import annotations

import glob
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from speaker.config.loader import resolve_relative
from speaker.config.schema import Settings
from speaker.errors import ConfigError
from speaker.mqtt.port import MqttPort
from speaker.tools.base import Tool, ToolRegistry
from speaker.tools.builtin import BuiltinHost, builtin_tools
from speaker.tools.mqtt_tool import MqttTool
from speaker.tools.packs import ToolPack, load_pack
from speaker.tools.schema import check_function_tool, validate_arguments

log = logging.getLogger(__name__)

_GLOB_CHARS = set("*?[")


def resolve_pack_paths(patterns: Sequence[str], base_dir: Path) -> list[Path]:
    """The pack files named by ``tools.packs`` (files or globs relative to ``base_dir``), in order,
    each once. A file that does not exist or a glob that matches nothing is a config error."""
    out: list[Path] = []
    for i, pattern in enumerate(patterns):
        path = resolve_relative(base_dir, pattern)
        if _GLOB_CHARS & set(pattern):
            found = [Path(p) for p in sorted(glob.glob(str(path)))]
            if not found:
                raise ConfigError(f"tools.packs[{i}]: {pattern!r} matches no file (looked in {path.parent})")
        else:
            if not path.is_file():
                raise ConfigError(f"tools.packs[{i}]: tool pack {pattern!r} not found (looked for {path})")
            found = [path]
        for file in found:
            if file.resolve() not in {p.resolve() for p in out}:
                out.append(file)
    return out


def load_packs(settings: Settings, base_dir: Path) -> list[ToolPack]:
    """Load and check every tool pack the settings name (for ``speaker check`` and ``build_tools``)."""
    return [load_pack(path) for path in resolve_pack_paths(settings.tools.packs, base_dir)]


def build_tools(settings: Settings, base_dir: Path, mqtt: MqttPort | None, host: BuiltinHost, *,
                timezone: str | None = None, now: Callable[[], datetime] | None = None) -> ToolRegistry:
    """The registry of every tool the model may call: the built-ins of ``tools.builtin`` and the
    tools of each pack in ``tools.packs`` (bound to ``mqtt``; with ``mqtt=None`` the packs are
    still checked but their tools are not offered). Arguments are validated by
    ``speaker.tools.schema.validate_arguments`` before any tool runs.

    Raises ConfigError for a broken pack (file:line), a missing pack file, or a tool name defined
    twice (naming both places)."""
    registry = ToolRegistry(timeout_s=settings.tools.timeout_s, validate=validate_arguments)
    where: dict[str, str] = {}
    problems: list[str] = []
    tools: list[Tool] = []

    def claim(name: str, place: str) -> bool:
        if name in where:
            problems.append(f"tool {name!r} is defined twice: {where[name]} and {place}; rename one")
            return False
        where[name] = place
        return True

    for tool in builtin_tools(settings.tools.builtin, host, timezone=timezone, now=now):
        if claim(tool.spec.name, "built-in"):
            tools.append(tool)

    packs = load_packs(settings, base_dir)
    site_id = settings.mqtt.site_id
    subscribed: set[str] = set()
    for pack in packs:
        for name, reason in pack.skipped:
            log.info("tool pack %s: tool %s not offered: %s", pack.path, name, reason)
        if mqtt is None and pack.tools:
            log.warning("MQTT is disabled: the %d tool(s) of %s are not offered", len(pack.tools), pack.path)
        for pack_tool in pack.tools:
            # names are claimed even with MQTT off, so a duplicate is reported by `speaker check` too
            if not claim(pack_tool.name, pack_tool.where) or mqtt is None:
                continue
            mqtt_tool = MqttTool(pack_tool, mqtt, site_id=site_id)
            tools.append(mqtt_tool)
            state = pack_tool.state
            if state is not None and state.timeout_s + 1 >= settings.tools.timeout_s:
                log.warning("tool %s (%s) waits up to %g s for the device, close to tools.timeout_s=%g s",
                            pack_tool.name, pack_tool.where, state.timeout_s, settings.tools.timeout_s)
            for topic in mqtt_tool.state_topics():
                if topic not in subscribed:
                    subscribed.add(topic)
                    mqtt.subscribe(topic)

    for tool in tools:
        problems.extend(check_function_tool(tool.spec))
    if problems:
        raise ConfigError("invalid tools:\n  " + "\n  ".join(problems))
    registry.extend(tools)
    # not the final count: the app adds the timer tools (and bridged MCP tools) to this registry
    log.info("tools: %d from built-ins and packs (%s)", len(registry), ", ".join(t.spec.name for t in tools))
    return registry
