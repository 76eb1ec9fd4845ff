"""The playback → capture delay, estimated from the reply itself as the canceller runs."""

from __future__ import annotations

import numpy as np
import pytest

from speaker.aec.delay import DelayEstimator, estimate_delay
from speaker.aec.passthrough import PassThroughCanceller
from speaker.aec.room import Room, RoomSpec
from speaker.aec.webrtc import WebRtcCanceller
from tests.aec.support import run
from tests.helpers.room import far_end, reference_16k, scene


@pytest.mark.parametrize("delay_ms", [20, 60, 120, 200])
def test_the_room_delay_is_found_within_10_ms(delay_ms: int) -> None:
    s = scene(seconds=8.0, spec=RoomSpec(delay_ms=delay_ms))
    canceller = WebRtcCanceller()
    steered: list[int] = []
    estimator = DelayEstimator(on_estimate=steered.append)
    canceller.observers.append(estimator)
    run(canceller, s.mic, s.reference)
    assert estimator.delay_ms is not None
    # the canceller pairs the reference a little later than it played (its cushion): add that back
    assert abs(estimator.delay_ms + canceller.reference.offset_ms - delay_ms) <= 10
    assert steered and steered[-1] == round(estimator.delay_ms)  # and the engine was told


def test_a_changed_delay_is_followed() -> None:
    """A new sound card: the median moves to the new delay as new estimates come in."""
    estimator = DelayEstimator()
    canceller = PassThroughCanceller()
    canceller.observers.append(estimator)
    for delay_ms in (40, 150):
        s = scene(seconds=14.0, spec=RoomSpec(delay_ms=delay_ms))
        run(canceller, s.mic, s.reference)
    assert estimator.delay_ms is not None
    assert abs(estimator.delay_ms + canceller.reference.offset_ms - 150) <= 10


def test_no_echo_gives_no_estimate() -> None:
    far = reference_16k(far_end(4.0))
    assert estimate_delay(far, Room().noise(len(far)).astype(np.int16)) is None
    assert estimate_delay(np.zeros(64000, np.int16), Room().noise(64000).astype(np.int16)) is None
