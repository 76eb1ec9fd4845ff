"""What the core has asked the speaker to play, and how much of it has been heard.

``written_ms`` counts the core's own Play and PlaySound actions; ``played_ms`` comes from the runner
(the sink's count, carried by MicFrame/Tick/PlaybackDrained). Nothing reaches the speaker behind the
core's back, so "a reply is playing" is known here, not read off a shared sink."""

from __future__ import annotations

PCM_BYTES_PER_MS = 48.0
"""pcm16 mono at 24 kHz."""


class Playback:
    def __init__(self) -> None:
        self.written_ms = 0.0
        self.played_ms = 0.0

    def wrote(self, ms: float) -> None:
        self.written_ms += ms

    def heard(self, played_ms: float) -> None:
        """The sink's played position; never beyond what was written (a sink that over-reports, or
        a clear that raced a frame, cannot make us claim more)."""
        self.played_ms = played_ms
        if played_ms > self.written_ms:
            self.written_ms = played_ms

    def cleared(self) -> None:
        self.written_ms = self.played_ms

    @property
    def ahead_s(self) -> float:
        """Seconds of queued audio not yet heard."""
        return max(self.written_ms - self.played_ms, 0.0) / 1000

    @property
    def playing(self) -> bool:
        return self.written_ms - self.played_ms > 1.0
