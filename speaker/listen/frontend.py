"""The always-on front end, sans I/O: frames in, wake and speech events out.

The wake engine and the VAD get a frame only while their ``*_enabled`` attribute is true (the runner
sets them from the core's ``Listen`` action: wake word unless muted, VAD while a conversation is open).
When either is switched back on it is reset first, so it never joins audio from before the gap to audio
after it. The pre-roll is not kept here: the core's uplink owns every copy of recent audio.

All event times are front end stream time (:attr:`FrontEnd.time`: seconds of audio given to
``process`` so far), whatever the engines count internally.
"""

from __future__ import annotations

from dataclasses import replace

from speaker.audio.format import MIC
from speaker.listen.events import FrontEndEvent
from speaker.vad.segmenter import SpeechSegmenter
from speaker.wake.base import WakeEngine


class FrontEnd:
    """Wake word + VAD for 16 kHz mono s16le frames."""

    def __init__(self, wake: WakeEngine | None, vad: SpeechSegmenter) -> None:
        self.wake = wake
        self.vad = vad
        self.wake_enabled = wake is not None
        """Feed the wake engine (ignored when there is none)."""
        self.vad_enabled = True
        """Feed the VAD."""
        self._bytes = 0
        self._wake_fed = self.wake_enabled
        self._vad_fed = True

    @property
    def time(self) -> float:
        """Stream seconds of audio processed."""
        return (self._bytes // 2) / MIC.rate

    def process(self, frame: bytes, ear: bytes | None = None) -> list[FrontEndEvent]:
        """Take one frame (any length, normally ``block_ms``); return the events it completed.
        ``ear`` is what the wake word hears of it instead, where that differs (the echo removed by
        a linear filter only, :mod:`speaker.aec.linear`); the VAD always hears ``frame``."""
        self._bytes += len(frame)
        events: list[FrontEndEvent] = []
        wake = self.wake
        if self.wake_enabled and wake is not None:
            if not self._wake_fed:
                wake.reset()
                self._wake_fed = True
            detections = wake.process(frame if ear is None else ear)
            if detections:
                now = self.time  # engines stamp detections with the end of the chunk that fired
                events.extend(replace(d, t=now) for d in detections)
        elif self._wake_fed:
            self._wake_fed = False
        if self.vad_enabled:
            vad = self.vad
            if not self._vad_fed:
                vad.reset()
                self._vad_fed = True
            speech = vad.process(frame)
            if speech:
                shift = self.time - vad.time
                events.extend(replace(e, t=e.t + shift) for e in speech)
        elif self._vad_fed:
            self._vad_fed = False
        return events

    def reset_vad(self) -> None:
        """Start speech detection afresh from the next frame (e.g. right after a wake word)."""
        self.vad.reset()
