"""The core's own sounds: when the microphone must not listen to them, when the thinking sound plays
during a slow tool call, and when a finished timer rings. Times are the core's clock (``now``); the
microphone's blanking is also bounded in stream time (``t``, of the microphone's frames)."""

from __future__ import annotations

from speaker.core.actions import PlaySound

WAKE = "wake"
THINKING = "thinking"
ERROR = "error"
MUTE = "mute"
UNMUTE = "unmute"
TIMER = "timer"
PREANNOUNCE = "preannounce"

UNBLANKED = frozenset({TIMER})
"""Sounds the microphone keeps hearing: the wake word must be able to stop a ringing timer."""


class Feedback:
    def __init__(self, sound_s: dict[str, float], echo_tail_s: float) -> None:
        self._sound_s = sound_s
        self._echo_tail_s = echo_tail_s
        self._deaf: list[tuple[float, float, float, float]] = []
        """(start, end) on the core's clock, (start, end) in stream time, of each sound and its echo."""

    def length(self, name: str) -> float:
        return self._sound_s.get(name, 0.0)

    def play(self, name: str, now: float, t: float, ahead_s: float) -> tuple[PlaySound | None, float]:
        """Play ``name`` after ``ahead_s`` of queued audio (``t``: the stream time of the last microphone
        frame). Returns the action (None when the sound is off) and its length in seconds."""
        seconds = self.length(name)
        if seconds <= 0:
            return None, 0.0
        if name not in UNBLANKED:
            start, start_t, length = now + ahead_s, t + ahead_s, seconds + self._echo_tail_s
            self._deaf.append((start, start + length, start_t, start_t + length))
        return PlaySound(name), seconds

    def deaf(self, now: float, t: float) -> bool:
        """Our own sound (or its echo) reaches the microphone now, at stream time ``t``. On both clocks, like
        the echo tail after a reply: input fed faster than real time runs ahead of the core's clock, and a
        window on that clock alone blanked any amount of it (for good while that clock stood still); a
        stalled stream is ended by the core's clock."""
        if not self._deaf:
            return False
        self._deaf = [w for w in self._deaf if w[1] > now and w[3] > t]
        return any(start <= now and start_t <= t for start, _, start_t, _ in self._deaf)

    def cancel(self) -> None:
        """Playback was cleared: the sounds queued will not play."""
        self._deaf.clear()


class Ring:
    """A finished timer's ring: repeated with a pause while nothing else uses the speaker, for at most
    ``max_s`` of ringing."""

    def __init__(self, pause_s: float, max_s: float) -> None:
        self._pause_s = pause_s
        self._max_s = max_s
        self.active = False
        self.next_at: float | None = None
        self.rung_s = 0.0

    def start(self, now: float) -> None:
        if not self.active:
            self.active, self.next_at, self.rung_s = True, now, 0.0

    def stop(self) -> None:
        self.active, self.next_at = False, None

    def due(self, now: float) -> bool:
        return self.active and self.next_at is not None and now >= self.next_at

    def rang(self, now: float, seconds: float) -> None:
        """One ring went out (``seconds`` long, 0 when the sound is off): the next after a pause."""
        period = max(seconds, 0.05) + self._pause_s
        self.rung_s += period
        self.next_at = now + period

    @property
    def exhausted(self) -> bool:
        """It has rung long enough: dismiss it."""
        return self.rung_s >= self._max_s
