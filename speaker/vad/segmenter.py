"""Speech start/end from webrtcvad frame decisions.

webrtcvad classifies one 10/20/30 ms frame at a time. :class:`SpeechSegmenter` frames the stream
itself (any chunk length in), and turns the frame decisions into two events:

* ``SpeechStarted`` once ``start_ms`` of consecutive voiced frames are seen; its ``t`` is the start
  of the first voiced frame of that run (so pre-roll arithmetic can start from it);
* ``SpeechEnded`` once ``hangover_ms`` of audio has passed with no voiced frame; its ``t`` is the end
  of the last voiced frame, i.e. the event arrives ``hangover_ms`` after the time it reports.

Durations are rounded up to whole frames. Times are stream seconds since creation or ``reset()``.

A new webrtcvad instance calls the first 70-90 ms of *any* input speech while it learns the noise
floor (seen on white and pink noise at every aggressiveness), so the first ``WARMUP_MS`` after
creation count as unvoiced. ``reset()`` keeps the instance and what it learned about the room.
"""

from __future__ import annotations

import math

import webrtcvad

from speaker.audio.format import MIC
from speaker.config.schema import VadSettings
from speaker.listen.events import SpeechEnded, SpeechStarted

SpeechEvent = SpeechStarted | SpeechEnded
WARMUP_MS = 150


class SpeechSegmenter:
    """Streaming speech segmentation of 16 kHz mono s16le audio."""

    def __init__(self, settings: VadSettings, rate: int = MIC.rate) -> None:
        if not webrtcvad.valid_rate_and_frame_length(rate, rate * settings.frame_ms // 1000):
            raise ValueError(f"webrtcvad cannot do {settings.frame_ms} ms frames at {rate} Hz")
        self.settings = settings
        self._rate = rate
        self._vad = webrtcvad.Vad(settings.aggressiveness)
        self._frame_samples = rate * settings.frame_ms // 1000
        self._frame_bytes = 2 * self._frame_samples
        self._start_frames = math.ceil(settings.start_ms / settings.frame_ms)
        self._hangover_frames = math.ceil(settings.hangover_ms / settings.frame_ms)
        self._buf = bytearray()
        self._warmup_frames = math.ceil(WARMUP_MS / settings.frame_ms)
        self.reset()

    def reset(self) -> None:
        """Forget speech state and any partial frame; stream time starts again at 0. The webrtcvad
        instance (its noise estimate) is kept."""
        self._buf.clear()
        self._bytes = 0
        self._frames = 0  # frames classified so far
        self._in_speech = False
        self._run = 0  # consecutive voiced frames (while not in speech)
        self._last_voiced = 0  # index + 1 of the last voiced frame (while in speech)

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def time(self) -> float:
        """Stream seconds of audio received (including a partial frame still buffered)."""
        return (self._bytes // 2) / self._rate

    def process(self, pcm: bytes) -> list[SpeechEvent]:
        """Feed audio of any length; return the events whose decision it completed, oldest first."""
        self._bytes += len(pcm)
        buf = self._buf
        size = self._frame_bytes
        events: list[SpeechEvent] = []
        if not buf and len(pcm) == size:  # the usual case: one whole frame per call, no copying
            self._frame(pcm, events)
            return events
        buf += pcm
        offset = 0
        view = memoryview(buf)
        try:
            while len(buf) - offset >= size:
                self._frame(view[offset:offset + size], events)
                offset += size
        finally:
            view.release()
        if offset:
            del buf[:offset]
        return events

    def _frame(self, frame: bytes | memoryview, events: list[SpeechEvent]) -> None:
        voiced = self._vad.is_speech(frame, self._rate)
        self._frames += 1
        if self._warmup_frames:
            self._warmup_frames -= 1
            voiced = False
        if not self._in_speech:
            if not voiced:
                self._run = 0
                return
            self._run += 1
            if self._run >= self._start_frames:
                self._in_speech = True
                self._last_voiced = self._frames
                events.append(SpeechStarted(t=self._seconds(self._frames - self._run)))
            return
        if voiced:
            self._last_voiced = self._frames
        elif self._frames - self._last_voiced >= self._hangover_frames:
            self._in_speech = False
            self._run = 0
            events.append(SpeechEnded(t=self._seconds(self._last_voiced)))

    def _seconds(self, frames: int) -> float:
        return frames * self._frame_samples / self._rate
