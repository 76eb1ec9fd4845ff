"""Load one or more YAML files into frozen ``Settings``, with errors that name file, key and line."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from speaker.config.schema import Settings
from speaker.config.secret import Secret
from speaker.config.yamlsource import KeyPath, Located, format_path, load_yaml, merge
from speaker.errors import ConfigError, SecretError

CONFIG_ENV = "SPEAKER_CONFIG"
# looked for in this order when neither --config nor $SPEAKER_CONFIG names a file
DEFAULT_PATHS = (Path("/etc/speaker/speaker.yaml"), Path("config/speaker.yaml"))

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    files: tuple[Path, ...]
    located: Located

    @property
    def base_dir(self) -> Path:
        """Folder of the main config file: relative paths inside it are relative to this."""
        return self.files[0].parent if self.files else Path.cwd()


class NoConfigFound(ConfigError):
    """No config file was named and none exists in the default places; ``looked_in`` lists them all."""

    def __init__(self, looked_in: Sequence[str]) -> None:
        self.looked_in = tuple(looked_in)
        super().__init__("no config file found; looked in:\n  " + "\n  ".join(self.looked_in)
                         + "\ngive one with `speaker --config FILE …` or $SPEAKER_CONFIG "
                           "(config/speaker.yaml in the repository is a commented example)")


def find_config(explicit: Sequence[str | Path] | None = None) -> tuple[Path, ...]:
    """The config files to load: ``--config`` files, else $SPEAKER_CONFIG, else the first of
    DEFAULT_PATHS that exists. A file named by --config or $SPEAKER_CONFIG must exist (loading it says
    so); when none is named and none exists, NoConfigFound names every place looked in."""
    if explicit:
        return tuple(Path(p) for p in explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        if not Path(env).is_file():
            raise ConfigError(f"${CONFIG_ENV}={env}: file not found")
        return (Path(env),)
    for path in DEFAULT_PATHS:
        if path.is_file():
            return (path,)
    raise NoConfigFound(["--config FILE (not given)", f"${CONFIG_ENV} (not set)",
                         *(f"{Path.cwd() / p} (no such file)" for p in DEFAULT_PATHS)])


def validate_located(model: type[M], located: Located, *, what: str = "") -> M:
    """Validate ``located.data`` as ``model``; a failure becomes a ConfigError listing every problem
    as ``file:line key.path: message``."""
    try:
        return model.model_validate(located.data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, located, what=what)) from None


def format_validation_error(exc: ValidationError, located: Located, *, what: str = "") -> str:
    lines = []
    seen = set()
    for err in exc.errors(include_url=False):
        path = _data_path(located.data, err["loc"])
        where = located.where(path)
        prefix = f"{where[0]}:{where[1]}" if where else "<config>"
        message = _message(err)
        line = f"{prefix} {format_path(path)}: {message}"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    head = f"invalid {what} configuration" if what else "invalid configuration"
    return head + ":\n  " + "\n  ".join(lines)


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see the configuration reference in README.md)"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    # pydantic prefixes custom messages with "Value error, "
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _data_path(data: Any, loc: Iterable[Any]) -> KeyPath:
    """Keep the parts of a pydantic ``loc`` that exist in the data (drops union member tags)."""
    out: list[str | int] = []
    node = data
    parts = list(loc)
    i = 0
    while i < len(parts):
        part = parts[i]
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and i == len(parts) - 1:
            out.append(part)  # a missing key: name it, point at its parent's line
        i += 1
    return tuple(out)


def load_settings(paths: Sequence[str | Path] | None = None) -> LoadedConfig:
    """Load and merge the given files (later ones override earlier ones) and validate them.

    ``None``: the files find_config() finds (NoConfigFound when there are none); an empty sequence: the
    built-in defaults alone."""
    files = find_config() if paths is None else tuple(Path(p) for p in paths)
    located = Located({}, {})
    for path in files:
        part = load_yaml(path)
        if not isinstance(part.data, dict):
            raise ConfigError(f"{path}:1 the top level must be a mapping of sections (audio:, wake:, …)")
        located = merge(located, part)
    settings = validate_located(Settings, located)
    return LoadedConfig(settings=settings, files=files, located=located)


def check_secrets(loaded: LoadedConfig, *, skip: Sequence[str] = ()) -> None:
    """Every secret the config names must be readable. Errors give file:line and the source, never a value.

    ``skip`` lists key-path prefixes not needed in this mode (e.g. 'realtime' for the offline demo)."""
    problems = []
    for path, secret in iter_secrets(loaded.settings):
        dotted = format_path(path)
        if any(dotted == s or dotted.startswith(s + ".") for s in skip):
            continue
        try:
            secret.reveal()
        except SecretError as exc:
            where = loaded.located.where(path)
            prefix = f"{where[0]}:{where[1]}" if where else "<default>"
            problems.append(f"{prefix} {dotted}: {exc}")
    if problems:
        raise SecretError("missing secrets:\n  " + "\n  ".join(problems))


def iter_secrets(model: BaseModel, path: KeyPath = ()) -> Iterable[tuple[KeyPath, Secret]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        yield from _walk_secret(value, (*path, name))


def _walk_secret(value: Any, path: KeyPath) -> Iterable[tuple[KeyPath, Secret]]:
    if isinstance(value, Secret):
        yield path, value
    elif isinstance(value, BaseModel):
        yield from iter_secrets(value, path)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk_secret(v, (*path, str(k)))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk_secret(v, (*path, i))


def resolve_relative(base_dir: Path, value: str | Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir / path)


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, secrets shown by source only (for `speaker check`)."""

    def walk(value: Any) -> Any:
        if isinstance(value, Secret):
            return f"<secret from {value.source}>"
        if isinstance(value, BaseModel):
            return {name: walk(getattr(value, name)) for name in type(value).model_fields}
        if isinstance(value, dict):
            return {str(k): walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    out = walk(settings)
    assert isinstance(out, dict)
    return out
