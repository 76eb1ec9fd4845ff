"""The always-on front end, sans I/O: frames in, wake and speech events out.

Every frame goes into the pre-roll ring; the wake engine and the VAD get it only while their
``*_enabled`` attribute is true (the conversation core flips them: wake word while idle and during
replies, VAD while it waits for the end of a user turn). When either is switched back on it is reset
first, so it never joins audio from before the gap to audio after it.

All event times are front end stream time (:attr:`FrontEnd.time`: seconds of audio given to
``process`` so far), whatever the engines count internally.
"""

from __future__ import annotations

from dataclasses import replace

from speaker.audio.format import MIC
from speaker.listen.events import FrontEndEvent
from speaker.listen.ringbuffer import RingBuffer
from speaker.vad.segmenter import SpeechSegmenter
from speaker.wake.base import WakeEngine


class FrontEnd:
    """Ring buffer + wake word + VAD for 16 kHz mono s16le frames."""

    def __init__(self, wake: WakeEngine | None, vad: SpeechSegmenter, preroll_ms: int) -> None:
        self.wake = wake
        self.vad = vad
        self.wake_enabled = wake is not None
        """Feed the wake engine (ignored when there is none)."""
        self.vad_enabled = True
        """Feed the VAD."""
        self._ring = RingBuffer(MIC.bytes_for_ms(preroll_ms))
        self._ring_write = self._ring.write
        self._bytes = 0
        self._wake_fed = self.wake_enabled
        self._vad_fed = True

    @property
    def time(self) -> float:
        """Stream seconds of audio processed."""
        return (self._bytes // 2) / MIC.rate

    @property
    def preroll_ms(self) -> float:
        return MIC.ms_for_bytes(self._ring.capacity)

    def process(self, frame: bytes) -> list[FrontEndEvent]:
        """Take one frame (any length, normally ``block_ms``); return the events it completed."""
        self._ring_write(frame)
        self._bytes += len(frame)
        events: list[FrontEndEvent] = []
        wake = self.wake
        if self.wake_enabled and wake is not None:
            if not self._wake_fed:
                wake.reset()
                self._wake_fed = True
            detections = wake.process(frame)
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

    def recent(self, ms: int) -> bytes:
        """The last ``ms`` of audio (at most the pre-roll length, and what was seen), oldest first."""
        return self._ring.last(MIC.bytes_for_ms(ms))

    def reset_vad(self) -> None:
        """Start speech detection afresh from the next frame (e.g. right after a wake word)."""
        self.vad.reset()
