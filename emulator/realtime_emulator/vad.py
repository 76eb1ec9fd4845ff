"""A plain energy VAD standing in for the service's ``server_vad``: fed the appended PCM, it says when
speech started and stopped, on the session's clock (milliseconds of all audio appended so far).

Not the service's model, and it does not try to be: loud enough frames are speech. ``threshold``
(0..1, like the session field) maps to a level from -60 dBFS (0) to -20 dBFS (1); the default 0.5 is
-40 dBFS, well below espeak or a close talker and well above a quiet room.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_MS = 20
_START_FRAMES = 2
"""Loud frames in a row before speech counts as started (40 ms: a click is not a word)."""


@dataclass(frozen=True)
class SpeechStarted:
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    audio_start_ms: int
    audio_end_ms: int
    """Includes the silence that ended the speech (``silence_duration_ms``), as the service reports."""


VadEvent = SpeechStarted | SpeechStopped


def threshold_dbfs(threshold: float) -> float:
    return -60.0 + 40.0 * threshold


class EnergyVad:
    """Sans-I/O: ``feed`` PCM16 (24 kHz mono), get the events it completes."""

    def __init__(self, *, threshold: float, silence_duration_ms: int, rate: int = 24000) -> None:
        self.level = threshold_dbfs(threshold)
        self.silence_ms = silence_duration_ms
        self.frame_bytes = rate * FRAME_MS // 1000 * 2
        self._pending = b""
        self._position_ms = 0
        self._loud_run = 0
        self._speech_start: int | None = None
        self._last_loud_end = 0

    def reset(self, position_ms: int) -> None:
        """Forget any speech in progress (buffer cleared); continue the clock at ``position_ms``."""
        self._pending = b""
        self._position_ms = position_ms
        self._loud_run = 0
        self._speech_start = None

    @property
    def in_speech(self) -> bool:
        return self._speech_start is not None

    def feed(self, pcm: bytes) -> list[VadEvent]:
        data = self._pending + pcm
        usable = len(data) - len(data) % self.frame_bytes
        self._pending = data[usable:]
        events: list[VadEvent] = []
        if not usable:
            return events
        frames = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32).reshape(-1, self.frame_bytes // 2)
        rms = np.sqrt(np.mean(frames * frames, axis=1)) / 32768.0
        loud = 20.0 * np.log10(np.maximum(rms, 1e-9)) > self.level
        for is_loud in loud.tolist():
            start = self._position_ms
            self._position_ms += FRAME_MS
            if is_loud:
                self._loud_run += 1
                self._last_loud_end = self._position_ms
                if self._speech_start is None and self._loud_run >= _START_FRAMES:
                    self._speech_start = start - (_START_FRAMES - 1) * FRAME_MS
                    events.append(SpeechStarted(self._speech_start))
            else:
                self._loud_run = 0
                if self._speech_start is not None and self._position_ms - self._last_loud_end >= self.silence_ms:
                    events.append(SpeechStopped(self._speech_start, self._position_ms))
                    self._speech_start = None
        return events
