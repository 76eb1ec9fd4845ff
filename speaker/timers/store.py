"""Small JSON state files in ``state_dir``: read leniently, written atomically (a power cut leaves the
old file or the new one, never half of each)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def load_json(path: Path) -> Any | None:
    """The file's JSON, or None when it does not exist or cannot be read (logged: a corrupt state file
    must not stop the speaker)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc.strerror or exc)
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        log.warning("%s is not valid JSON (%s); starting without it", path, exc.msg)
        return None


def save_json(path: Path, data: Any) -> bool:
    """Write ``data`` atomically (temporary file in the same folder, fsync, rename). Returns False (and
    logs) when it cannot: the speaker keeps working, only persistence is lost."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        log.warning("cannot save %s: %s", path, exc.strerror or exc)
        return False
    return True

