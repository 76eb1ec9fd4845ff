"""YAML loading that remembers where every key came from.

PyYAML's composer gives us nodes with start marks; we turn them into plain Python values and keep a
map from key path (a tuple of str/int) to (file, line) so validation errors can point at the line the
user has to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from speaker.errors import ConfigError

KeyPath = tuple[str | int, ...]


@dataclass
class Located:
    """A YAML document as Python values, plus where each key path was written."""

    data: Any
    lines: dict[KeyPath, tuple[str, int]] = field(default_factory=dict)

    def where(self, path: KeyPath) -> tuple[str, int] | None:
        """The (file, line) of the longest prefix of ``path`` that has a location."""
        for cut in range(len(path), -1, -1):
            hit = self.lines.get(tuple(path[:cut]))
            if hit is not None:
                return hit
        return None


def format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


def _to_python(node: yaml.Node, file: str, path: KeyPath, lines: dict[KeyPath, tuple[str, int]]) -> Any:
    lines[path] = (file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConfigError(f"{file}:{key_node.start_mark.line + 1} {format_path(path)}: "
                                  "YAML merge keys ('<<') are not supported; write the keys out")
            key = yaml.safe_load(yaml.serialize(key_node)) if key_node.tag != "tag:yaml.org,2002:str" \
                else key_node.value
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                raise ConfigError(f"{file}:{key_node.start_mark.line + 1} {format_path((*path, key))}: "
                                  "duplicate key (the earlier value would be silently lost)")
            out[key] = _to_python(value_node, file, (*path, key), lines)
            # point the key itself at the line of the key, which is what an editor shows
            lines[(*path, key)] = (file, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, file, (*path, i), lines) for i, item in enumerate(node.value)]
    # scalars: let the safe constructor resolve ints, floats, bools, nulls
    return yaml.safe_load(yaml.serialize(node))


def load_yaml(path: str | Path) -> Located:
    """Read one YAML file. Syntax errors become a ConfigError naming file and line."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    return load_yaml_text(text, file)


def load_yaml_text(text: str, file: str = "<string>") -> Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{file}:{line} YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: YAML error: {exc}") from None
    if node is None:
        return Located({}, {(): (file, 1)})
    lines: dict[KeyPath, tuple[str, int]] = {}
    data = _to_python(node, file, (), lines)
    return Located(data, lines)


def merge(base: Located, extra: Located) -> Located:
    """Deep-merge ``extra`` over ``base``: mappings merge, lists and scalars are replaced."""
    lines = dict(base.lines)

    def walk(a: Any, b: Any, path: KeyPath) -> Any:
        if isinstance(a, dict) and isinstance(b, dict):
            out = dict(a)
            for key, value in b.items():
                sub = (*path, key)
                if key in a:
                    out[key] = walk(a[key], value, sub)
                else:
                    out[key] = value
                    _copy_lines(extra.lines, lines, sub)
            return out
        # replaced wholesale: drop stale locations below this path, take the new ones
        for stale in [p for p in lines if p[: len(path)] == path and len(p) > len(path)]:
            del lines[stale]
        _copy_lines(extra.lines, lines, path)
        return b

    data = walk(base.data, extra.data, ())
    return Located(data, lines)


def _copy_lines(src: dict[KeyPath, tuple[str, int]], dst: dict[KeyPath, tuple[str, int]],
                prefix: KeyPath) -> None:
    for p, loc in src.items():
        if p[: len(prefix)] == prefix:
            dst[p] = loc
