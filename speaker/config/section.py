"""The base of every settings section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    # attribute docstrings become field descriptions: the README's configuration reference is generated
    # from them (speaker.config.reference), so the docs cannot drift from the code
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
