"""The echo canceller port."""

from __future__ import annotations

from typing import Protocol

from speaker.audio.format import MIC, REALTIME, AudioFormat

FRAME_MS = 10
"""Every engine works on 10 ms frames internally."""
FRAME_SAMPLES = MIC.rate * FRAME_MS // 1000
REFERENCE: AudioFormat = REALTIME
"""The far-end reference: what the sink plays (24 kHz mono s16le, after volume)."""


class EchoCanceller(Protocol):
    """Removes the speaker's own output from the microphone signal.

    ``add_reference`` takes far-end audio (:data:`REFERENCE`) at the moment it is really played
    (driven by the sink's ``played_ms``, see :class:`speaker.aec.reference.ReferenceTap`), never when
    it is written. ``process`` takes 16 kHz mono s16le microphone audio of any length and returns the
    same number of bytes, echo removed (blocks that are whole multiples of 10 ms come back with no
    added latency). Both run in microseconds per frame, inline on the event loop."""

    @property
    def active(self) -> bool:
        """False for the pass-through: nothing is cancelled here."""

    def add_reference(self, pcm: bytes) -> None: ...

    def process(self, mic: bytes) -> bytes: ...

    def set_delay_ms(self, delay_ms: int) -> None:
        """The playback → capture delay (a hint for engines that estimate it themselves)."""

    def reset(self) -> None:
        """Forget the echo path and any queued reference (a new output device)."""

    def close(self) -> None: ...
