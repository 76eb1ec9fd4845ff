"""The wake word port: what the front end needs from a detector, whichever library runs it."""

from __future__ import annotations

from typing import Protocol

from speaker.listen.events import WakeDetected


class WakeEngine(Protocol):
    """A streaming wake word detector running one or more models on the same audio.

    ``process`` takes 16 kHz mono s16le PCM of any length (a trailing odd byte is kept for the next
    call) and returns the detections that audio completed. A detection's ``t`` is engine stream time:
    samples fed since the engine was created or last reset, divided by 16000, taken at the end of the
    chunk whose audio fired it. ``WakeDetected.model`` is the model's display name (see ``names``).
    """

    names: tuple[str, ...]
    """Display names of the loaded models, in configuration order."""

    def process(self, pcm: bytes) -> list[WakeDetected]: ...

    def reset(self) -> None:
        """Forget all audio and trigger state; stream time starts again at 0."""

    def close(self) -> None:
        """Release the interpreters. The engine must not be used afterwards."""
