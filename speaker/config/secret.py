"""Secrets are never written in the YAML: the YAML names an environment variable or a file."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from speaker.errors import SecretError


class Secret(BaseModel):
    """``{env: NAME}`` or ``{file: /path}``. The value is read when needed and never printed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_inline(cls, value: object) -> object:
        if isinstance(value, str):
            raise ValueError(
                "secrets must not be written in the config; use {env: VARIABLE} or {file: /path/to/file}"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Secret:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self

    @property
    def source(self) -> str:
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def reveal(self) -> str:
        """The secret's value. Raises SecretError naming the source (not the value)."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise SecretError(f"environment variable {self.env} is not set")
            return value.strip()
        assert self.file is not None
        try:
            value = self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretError(f"cannot read secret file {self.file}: {exc.strerror}") from None
        if not value:
            raise SecretError(f"secret file {self.file} is empty")
        return value

    def available(self) -> bool:
        try:
            self.reveal()
        except SecretError:
            return False
        return True

    def __repr__(self) -> str:
        return f"Secret({self.source})"

    __str__ = __repr__
