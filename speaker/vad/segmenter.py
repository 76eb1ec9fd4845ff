"""Speech start/end from webrtcvad frame decisions.

webrtcvad classifies one 10/20/30 ms frame at a time. :class:`SpeechSegmenter` frames the stream
itself (any chunk length in), and turns the frame decisions into two events:

* ``SpeechStarted`` once ``start_ms`` of consecutive voiced frames are seen; its ``t`` is the start
  of the first voiced frame of that run (so pre-roll arithmetic can start from it);
* ``SpeechEnded`` once ``hangover_ms`` of audio has passed with no voiced frame; its ``t`` is the end
  of the last voiced frame, i.e. the event arrives ``hangover_ms`` after the time it reports.

Durations are rounded up to whole frames. Times are stream seconds since creation or ``reset()``.

webrtcvad's decisions are not trusted for the first ``WARMUP_MS`` after creation and after
``reset()``: a new instance calls the first 70-90 ms of *any* input speech while it learns the noise
floor (seen on white and pink noise at every aggressiveness), and after speech its own built-in
overhang keeps saying "speech" for a few frames, which would start a phantom segment right after a
reset made at the end of a wake word. ``reset()`` keeps the instance and what it learned about the
room.
"""

from __future__ import annotations

import math
from typing import Protocol

import webrtcvad

from speaker.audio.format import MIC
from speaker.config.schema import VadSettings
from speaker.listen.events import SpeechEnded, SpeechStarted

SpeechEvent = SpeechStarted | SpeechEnded
WARMUP_MS = 150


class FrameClassifier(Protocol):
    """What the segmenter needs from webrtcvad (tests script it)."""

    def is_speech(self, buf: bytes | bytearray, sample_rate: int) -> bool: ...


class SpeechSegmenter:
    """Streaming speech segmentation of 16 kHz mono s16le audio."""

    def __init__(self, settings: VadSettings, rate: int = MIC.rate, *,
                 classifier: FrameClassifier | None = None) -> None:
        if not webrtcvad.valid_rate_and_frame_length(rate, rate * settings.frame_ms // 1000):
            raise ValueError(f"webrtcvad cannot do {settings.frame_ms} ms frames at {rate} Hz")
        self.settings = settings
        self._rate = rate
        self._vad: FrameClassifier = classifier or webrtcvad.Vad(settings.aggressiveness)
        self._frame_samples = rate * settings.frame_ms // 1000
        self._frame_bytes = 2 * self._frame_samples
        self._start_frames = math.ceil(settings.start_ms / settings.frame_ms)
        self._hangover_frames = math.ceil(settings.hangover_ms / settings.frame_ms)
        self._frame_buf = bytearray(self._frame_bytes)
        self._fill = 0
        self.reset()

    def reset(self) -> None:
        """Forget speech state and any partial frame; stream time starts again at 0. The webrtcvad
        instance (its noise estimate) is kept; the next ``WARMUP_MS`` count as unvoiced."""
        self._fill = 0
        self._bytes = 0
        self._warmup_frames = math.ceil(WARMUP_MS / self.settings.frame_ms)
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
        n = len(pcm)
        self._bytes += n
        fill = self._fill
        end = fill + n
        size = self._frame_bytes
        if end < size:  # the usual case (10 ms blocks, 20/30 ms frames): only buffer it
            self._frame_buf[fill:end] = pcm
            self._fill = end
            return []
        events: list[SpeechEvent] = []
        frame = self._frame_buf
        if end == size:
            if fill:
                frame[fill:] = pcm
                self._frame(frame, events)
            else:  # exactly one frame: no copying
                self._frame(pcm, events)
            self._fill = 0
            return events
        view = memoryview(pcm)  # several frames, or one that completes a partial frame
        pos = 0
        while pos < n:
            take = min(size - fill, n - pos)
            frame[fill:fill + take] = view[pos:pos + take]
            fill += take
            pos += take
            if fill == size:
                self._frame(frame, events)
                fill = 0
        self._fill = fill
        return events

    def _frame(self, frame: bytes | bytearray, events: list[SpeechEvent]) -> None:
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
