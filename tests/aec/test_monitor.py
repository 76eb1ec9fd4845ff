"""The echo monitor: is speech barge-in safe? Safe only when the echo is really cancelled."""

from __future__ import annotations

import pytest

from speaker.aec.framing import FramedCanceller
from speaker.aec.monitor import EchoMonitor
from speaker.aec.passthrough import PassThroughCanceller
from speaker.aec.webrtc import WebRtcCanceller
from speaker.config.echo import EchoSettings
from tests.aec.support import run
from tests.fixtures.speech import tools_missing
from tests.helpers.room import scene


def monitored(canceller: FramedCanceller) -> EchoMonitor:
    monitor = EchoMonitor(EchoSettings())
    canceller.observers.append(monitor)
    return monitor


def test_safe_when_the_echo_is_cancelled() -> None:
    s = scene(seconds=8.0)
    canceller = WebRtcCanceller()
    monitor = monitored(canceller)
    run(canceller, s.mic, s.reference)
    report = monitor.report()
    assert report.safe, report.reason
    assert report.erle_db is not None and report.erle_db >= 30


def test_unsafe_when_the_canceller_is_bypassed() -> None:
    s = scene(seconds=8.0)
    canceller = PassThroughCanceller()
    monitor = monitored(canceller)
    run(canceller, s.mic, s.reference)
    report = monitor.report()
    assert not report.safe
    assert report.erle_db is not None and report.erle_db < 3


def test_unsafe_when_the_reference_comes_after_its_echo() -> None:
    """The delay is wrong the other way round: the reference reaches the canceller 150 ms after the
    microphone heard it (e.g. pushed on a late clock), so nothing can be cancelled."""
    s = scene(seconds=8.0)
    canceller = WebRtcCanceller()
    monitor = monitored(canceller)
    run(canceller, s.mic, s.reference, reference_lag=round(0.21 * 24000))
    report = monitor.report()
    assert not report.safe, report.reason


def test_not_safe_before_enough_echo_was_measured() -> None:
    s = scene(seconds=1.0)
    canceller = WebRtcCanceller()
    monitor = monitored(canceller)
    run(canceller, s.mic, s.reference)
    assert not monitor.report().safe
    assert not EchoMonitor().report().safe  # nothing played at all


@pytest.mark.skipif(tools_missing() is not None, reason=str(tools_missing()))
def test_the_user_talking_over_the_reply_does_not_flip_the_verdict() -> None:
    s = scene(seconds=8.0, near="speech_end", near_at_s=4.0, near_db=-6.0)
    canceller = WebRtcCanceller()
    monitor = monitored(canceller)
    run(canceller, s.mic, s.reference)
    assert monitor.report().safe, monitor.report().reason
