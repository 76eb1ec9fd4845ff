"""Audio format value objects. PCM is always signed 16-bit little-endian here."""

from __future__ import annotations

from dataclasses import dataclass

SAMPLE_WIDTH = 2


@dataclass(frozen=True)
class AudioFormat:
    rate: int
    channels: int = 1

    def __post_init__(self) -> None:
        if not 8000 <= self.rate <= 192000:
            raise ValueError(f"sample rate {self.rate} Hz is out of range 8000-192000")
        if not 1 <= self.channels <= 32:
            raise ValueError(f"channel count {self.channels} is out of range 1-32")

    @property
    def bytes_per_frame(self) -> int:
        """Bytes of one sample on every channel."""
        return SAMPLE_WIDTH * self.channels

    @property
    def bytes_per_second(self) -> int:
        return self.rate * self.bytes_per_frame

    def bytes_for_ms(self, ms: float) -> int:
        """Whole frames covering ``ms`` milliseconds, in bytes."""
        return int(self.rate * ms / 1000) * self.bytes_per_frame

    def ms_for_bytes(self, n: int) -> float:
        return n * 1000.0 / self.bytes_per_second


MIC = AudioFormat(16000)
"""What the wake word, the VAD and the pre-roll work on."""

REALTIME = AudioFormat(24000)
"""The only PCM rate the Realtime API accepts, up and down."""
