"""Topic and payload templates of tool packs.

A template is text with placeholders: ``{name}`` (a tool parameter) or ``{name.field}`` (a field
of the inventory device chosen by the device parameter ``name``). ``{{`` and ``}}`` are literal
braces. Templates are parsed when the pack is loaded, so an unknown placeholder is a config error
with a line number, never a surprise at call time.

Payload templates are data, not text: a JSON object template is walked and each string value
rendered on its own; a value that is exactly one placeholder keeps the argument's JSON type
(``"{brightness}"`` becomes the number 128). The result is serialised with ``json.dumps``, so an
argument can never break out of its string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Missing:
    """Marks an optional argument that was not given (its key is left out of the payload)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[_Missing] = _Missing()


@dataclass(frozen=True)
class Placeholder:
    name: str
    field: str | None = None

    def __str__(self) -> str:
        return "{" + self.name + ("." + self.field if self.field else "") + "}"


Lookup = Callable[[Placeholder], Any]
"""Returns the value for a placeholder, or MISSING for an optional argument not given."""


@dataclass(frozen=True)
class Template:
    """Parsed template text."""

    source: str
    parts: tuple[str | Placeholder, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        """Parse ``text``; raises ValueError naming the problem."""
        parts: list[str | Placeholder] = []
        literal: list[str] = []
        i = 0
        while i < len(text):
            char = text[i]
            if text.startswith("{{", i) or text.startswith("}}", i):
                literal.append(char)
                i += 2
            elif char == "}":
                raise ValueError(f"unmatched '}}' at character {i + 1} of {text!r} (write '}}}}' for a brace)")
            elif char == "{":
                end = text.find("}", i)
                if end < 0:
                    raise ValueError(f"unclosed '{{' at character {i + 1} of {text!r}")
                inner = text[i + 1:end]
                names = inner.split(".")
                if len(names) > 2 or not all(_NAME.fullmatch(n) for n in names):
                    raise ValueError(f"{{{inner}}} is not a placeholder: write {{parameter}} or "
                                     "{device_parameter.field}; to send JSON write the payload as a YAML "
                                     "mapping, and write '{{' '}}' for literal braces")
                if literal:
                    parts.append("".join(literal))
                    literal = []
                parts.append(Placeholder(names[0], names[1] if len(names) == 2 else None))
                i = end + 1
            else:
                literal.append(char)
                i += 1
        if literal:
            parts.append("".join(literal))
        return cls(text, tuple(parts))

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        return tuple(p for p in self.parts if isinstance(p, Placeholder))

    @property
    def single(self) -> Placeholder | None:
        """The placeholder when the template is exactly one placeholder and nothing else."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Placeholder):
            return self.parts[0]
        return None

    def render_text(self, lookup: Lookup, convert: Callable[[Placeholder, Any], str] | None = None) -> str | _Missing:
        """The template as text (MISSING if a placeholder's value is missing)."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = lookup(part)
            if isinstance(value, _Missing):
                return value
            out.append(convert(part, value) if convert is not None else as_text(value))
        return "".join(out)

    def render_value(self, lookup: Lookup) -> Any:
        """A single-placeholder template keeps the value's type; anything else renders as text."""
        single = self.single
        if single is not None:
            return lookup(single)
        return self.render_text(lookup)


def as_text(value: Any) -> str:
    """How a value reads inside text: JSON spelling for booleans and null, numbers without '.0'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


# ---------------------------------------------------------------------------- payload trees

PayloadTree = dict[str, "PayloadTree"] | list["PayloadTree"] | Template | str | int | float | bool | None


def compile_payload(value: Any, where: str = "payload") -> PayloadTree:
    """Turn a YAML payload (mapping, list, string or scalar) into a tree with parsed templates.
    Raises ValueError naming the position of a bad template."""
    if isinstance(value, str):
        try:
            return Template.parse(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    if isinstance(value, Mapping):
        return {str(k): compile_payload(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [compile_payload(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise ValueError(f"{where}: unsupported value {value!r}")


def tree_placeholders(tree: PayloadTree) -> Iterator[Placeholder]:
    if isinstance(tree, Template):
        yield from tree.placeholders
    elif isinstance(tree, dict):
        for item in tree.values():
            yield from tree_placeholders(item)
    elif isinstance(tree, list):
        for item in tree:
            yield from tree_placeholders(item)


def render_tree(tree: PayloadTree, lookup: Lookup) -> Any:
    """Render to plain JSON data. Keys whose value is missing are dropped; a mapping or list left
    empty by dropping is itself missing. The top level may come back as MISSING."""
    if isinstance(tree, Template):
        return tree.render_value(lookup)
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, item in tree.items():
            value = render_tree(item, lookup)
            if value is not MISSING:
                out[key] = value
        return MISSING if tree and not out else out
    if isinstance(tree, list):
        items = [v for v in (render_tree(i, lookup) for i in tree) if v is not MISSING]
        return MISSING if tree and not items else items
    return tree


def payload_bytes(rendered: Any) -> bytes:
    """Bytes to publish: JSON for mappings and lists, the text itself for strings."""
    if isinstance(rendered, (dict, list)):
        return json.dumps(rendered, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return as_text(rendered).encode("utf-8")
