"""What every canceller adapter shares: the reference buffer, 10 ms framing of microphone blocks
of any size, and observers (the delay estimator, the echo monitor) fed each aligned frame."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from speaker.aec.port import FRAME_SAMPLES
from speaker.aec.reference import ReferenceBuffer


class FrameObserver(Protocol):
    def observe(self, reference: np.ndarray, mic: np.ndarray, out: np.ndarray) -> None:
        """One 10 ms frame: the reference handed to the canceller, the microphone, the output."""


class FramedCanceller:
    """Base of the adapters: subclasses implement :meth:`_cancel` on one 10 ms frame.

    ``process`` cuts the microphone audio into 10 ms frames and pairs each with the next 10 ms of
    reference. Blocks that are whole multiples of 10 ms come back at once; other sizes are delayed by
    the remainder (at most 10 ms, zero-filled at the start) so the output always has the input's
    length."""

    def __init__(self) -> None:
        self.reference = ReferenceBuffer()
        self.observers: list[FrameObserver] = []
        self._in = np.zeros(0, dtype=np.int16)
        self._out = np.zeros(0, dtype=np.int16)
        self._odd = b""
        self._buffered = False

    @property
    def active(self) -> bool:
        return True

    def add_reference(self, pcm: bytes) -> None:
        self.reference.push(pcm)

    def process(self, mic: bytes) -> bytes:
        if self._odd:
            mic, self._odd = self._odd + mic, b""
        if len(mic) % 2:
            mic, self._odd = mic[:-1], mic[-1:]
        samples = np.frombuffer(mic, dtype="<i2")
        n = samples.size
        if not self._buffered and n % FRAME_SAMPLES == 0:
            return self._frames(samples).tobytes()  # the usual case: no copies, no latency
        if not self._buffered:
            # one frame of silence first: from now on queued input + queued output is exactly one
            # frame, so there is always enough output, at a constant 10 ms latency
            self._buffered = True
            self._out = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        self._in = np.concatenate([self._in, samples])
        whole = self._in.size // FRAME_SAMPLES * FRAME_SAMPLES
        if whole:
            self._out = np.concatenate([self._out, self._frames(self._in[:whole])])
            self._in = self._in[whole:]
        head, self._out = self._out[:n], self._out[n:]
        return head.astype("<i2").tobytes()

    def _frames(self, samples: np.ndarray) -> np.ndarray:
        out = np.empty_like(samples)
        for i in range(0, samples.size, FRAME_SAMPLES):
            mic = samples[i:i + FRAME_SAMPLES]
            ref = self.reference.take(FRAME_SAMPLES)
            res = self._cancel(ref, mic)
            out[i:i + FRAME_SAMPLES] = res
            for observer in self.observers:
                observer.observe(ref, mic, res)
        return out

    def _cancel(self, reference: np.ndarray, mic: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def set_delay_ms(self, delay_ms: int) -> None:
        return None

    def reset(self) -> None:
        self.reference.reset()
        self._in = np.zeros(0, dtype=np.int16)
        self._out = np.zeros(0, dtype=np.int16)
        self._odd = b""
        self._buffered = False

    def close(self) -> None:
        return None
