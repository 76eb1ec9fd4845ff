"""The input audio buffer on the session clock (ms of all audio appended so far), with the energy VAD
when turn detection is on. Sans-I/O: the connection turns what it returns into events."""

from __future__ import annotations

from typing import Any

from realtime_emulator.session import bytes_per_ms, vad_silence_ms
from realtime_emulator.vad import EnergyVad, SpeechStopped, VadEvent


class InputBuffer:
    def __init__(self) -> None:
        self._data = bytearray()
        self._start_ms = 0.0
        """Session-clock time of the first byte in the buffer."""
        self.total_ms = 0.0
        self.bytes_per_ms = 48.0
        self._vad: EnergyVad | None = None

    def configure(self, audio_format: dict[str, Any], detection: dict[str, Any] | None) -> None:
        """Follow the session: its input format, and server/semantic VAD or none."""
        self.bytes_per_ms = bytes_per_ms(audio_format)
        if detection is None or audio_format.get("type") != "audio/pcm":
            self._vad = None  # the energy VAD reads PCM16 only
            return
        self._vad = EnergyVad(threshold=float(detection.get("threshold", 0.5)),
                              silence_duration_ms=vad_silence_ms(detection))
        self._vad.reset(int(self.total_ms))

    @property
    def buffered_ms(self) -> float:
        return len(self._data) / self.bytes_per_ms

    def ms_of(self, audio: bytes) -> float:
        return len(audio) / self.bytes_per_ms

    def append(self, audio: bytes) -> list[VadEvent]:
        self._data += audio
        self.total_ms += self.ms_of(audio)
        return self._vad.feed(audio) if self._vad is not None else []

    def take_all(self) -> bytes:
        """A manual commit: everything buffered (speech in progress is forgotten)."""
        audio = bytes(self._data)
        self.clear()
        return audio

    def clear(self) -> None:
        self._data.clear()
        self._start_ms = self.total_ms
        if self._vad is not None:
            self._vad.reset(int(self.total_ms))

    def take_speech(self, stopped: SpeechStopped, prefix_padding_ms: float) -> bytes:
        """VAD's commit: the speech from ``prefix_padding_ms`` before it started to where it stopped
        (the closing silence included, as the service does); audio after that stays buffered."""
        start = self._offset(stopped.audio_start_ms - prefix_padding_ms - self._start_ms)
        end = max(start, self._offset(stopped.audio_end_ms - self._start_ms))
        audio = bytes(self._data[start:end])
        del self._data[:end]
        self._start_ms = stopped.audio_end_ms
        return audio

    def _offset(self, ms: float) -> int:
        offset = int(max(0.0, ms) * self.bytes_per_ms)
        if self.bytes_per_ms == 48.0:
            offset -= offset % 2  # whole PCM16 samples
        return min(offset, len(self._data))
