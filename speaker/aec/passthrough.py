"""No cancelling here: echo cancellation is off, or already done before the audio reaches us."""

from __future__ import annotations

import numpy as np

from speaker.aec.framing import FramedCanceller

EXTERNAL_MARKERS = ("echo-cancel", "echo cancel", "echocancel", "echo_cancel")
"""Parts of an input device's name that say an echo canceller is already in the chain: PipeWire's
and PulseAudio's module-echo-cancel name their source 'Echo-Cancel Source' / '….echo-cancel'."""


class PassThroughCanceller(FramedCanceller):
    """The microphone unchanged. Observers still see every frame, so the echo monitor measures the
    echo as it is (an external canceller's result, or none) and says whether barge-in is safe."""

    @property
    def active(self) -> bool:
        return False

    def _cancel(self, reference: np.ndarray, mic: np.ndarray) -> np.ndarray:
        return mic


def external_canceller_in_chain(input_device: str | None) -> bool:
    """Whether the input device's name says it is an echo-cancelled source already."""
    if not input_device:
        return False
    name = input_device.lower()
    return any(marker in name for marker in EXTERNAL_MARKERS)
