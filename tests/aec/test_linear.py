"""The linear echo filter (the wake word's ear) in the simulated room: echo at -6 dB re the played
reply, RT60 0.3 s, 60 ms. It must cancel the echo without ever suppressing a voice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soxr

from speaker.aec.linear import LinearEar
from speaker.aec.monitor import EchoMonitor
from speaker.aec.passthrough import PassThroughCanceller
from speaker.aec.room import Room, active_rms, to_int16
from speaker.aec.webrtc import WebRtcCanceller
from speaker.audio.format import MIC, REALTIME
from speaker.config.echo import EchoSettings
from speaker.config.schema import WakeSettings
from tests.aec.support import erle_db, run
from tests.fixtures.speech import tools_missing
from tests.helpers.room import far_end, near_speech, scene


def ear_output(mic: np.ndarray, reference: np.ndarray, *, reference_lag: int = 0) -> np.ndarray:
    """What the wake word hears: the ear observing a canceller fed the way the daemon feeds it."""
    canceller = PassThroughCanceller()
    ear = LinearEar()
    canceller.observers.append(ear)
    run(canceller, mic, reference, reference_lag=reference_lag)
    return np.frombuffer(ear.take(), dtype="<i2")


def test_the_echo_is_reduced_linearly() -> None:
    s = scene(seconds=10.0)
    out = ear_output(s.mic, s.reference)
    assert len(out) == len(s.mic) // 160 * 160
    assert erle_db(s.mic, out, s.echo, from_s=6.0) >= 15.0


@pytest.mark.skipif(tools_missing() is not None, reason=str(tools_missing()))
def test_a_voice_over_the_echo_passes_untouched_and_the_echo_stays_cancelled() -> None:
    """Double talk 6 dB below the echo: the foreground filter is not disturbed by the voice (what is
    left besides the voice stays far below the echo) and the voice is not attenuated."""
    s = scene(seconds=10.0, near="speech_end", near_at_s=6.0, near_db=-6.0)
    assert s.speech is not None
    out = ear_output(s.mic, s.reference).astype(np.float64)
    lo, hi = (round(t * MIC.rate) for t in s.speech)
    near, echo = s.near[lo:hi], s.echo[lo:hi]
    left = out[lo:hi] - near  # the echo the filter did not remove, while the voice spoke
    assert 10 * np.log10(np.sum(echo ** 2) / np.sum(left ** 2)) >= 12.0
    kept = float(np.dot(out[lo:hi], near) / np.dot(near, near))  # the voice's share in the output
    assert 0.9 <= kept <= 1.1
    # after the voice the filter has not diverged either
    after = slice(hi, len(out))
    assert erle_db(s.mic[after], out[after].astype(np.int16), s.echo[after], from_s=0.0) >= 12.0


def test_with_nothing_played_the_microphone_passes_bit_exact() -> None:
    s = scene(seconds=3.0, near=None)
    out = ear_output(s.mic, np.zeros_like(s.reference))
    n = len(out)
    assert np.array_equal(out, s.mic[:n])


def test_after_the_reply_the_microphone_passes_bit_exact_again() -> None:
    """Once the echo of the last played audio has died away the filter steps aside (and costs nothing)."""
    s = scene(seconds=6.0)
    reference = s.reference.copy()
    reference[round(3.0 * 24000):] = 0  # the reply ends at 3 s
    out = ear_output(s.mic, reference)
    tail = slice(round(3.5 * MIC.rate), len(out))
    assert np.array_equal(out[tail], s.mic[tail])


def test_a_reference_a_second_late_cannot_be_cancelled() -> None:
    s = scene(seconds=10.0)
    out = ear_output(s.mic, s.reference, reference_lag=24000)
    assert erle_db(s.mic, out, s.echo, from_s=2.0) < 3.0


def test_the_monitor_calls_a_late_reference_unsafe_with_the_reason() -> None:
    """AEC3's suppressor gates an echo whose reference comes a second late; the linear figure shows
    that the played audio does not predict it, and speech barge-in stays off."""
    s = scene(seconds=10.0)
    canceller = WebRtcCanceller()
    ear = LinearEar()
    monitor = EchoMonitor(EchoSettings(), ear=ear)
    canceller.observers.extend([ear, monitor])
    run(canceller, s.mic, s.reference, reference_lag=24000)
    report = monitor.report()
    assert not report.safe
    assert report.linear_erle_db is not None and report.linear_erle_db < 3.0


def test_the_monitor_with_the_ear_calls_a_cancelled_echo_safe() -> None:
    s = scene(seconds=10.0)
    canceller = WebRtcCanceller()
    ear = LinearEar()
    monitor = EchoMonitor(EchoSettings(), ear=ear)
    canceller.observers.extend([ear, monitor])
    run(canceller, s.mic, s.reference)
    report = monitor.report()
    assert report.safe, report.reason
    assert report.linear_erle_db is not None and report.linear_erle_db >= EchoSettings().linear_min_db


@pytest.mark.skipif(tools_missing() is not None, reason=str(tools_missing()))
@pytest.mark.parametrize("at_s", [1.0, 4.0, 9.0])
def test_a_reply_that_says_the_wake_word_does_not_wake_the_speaker(at_s: float) -> None:
    """The ear keeps more of a voice than AEC3 does, so it must still not let the speaker's own
    voice through as a wake word: the reply says "hey jarvis" (at the reply's level) early, while the
    filter is still learning, and later. The raw microphone does wake (the control)."""
    from speaker.wake.factory import build_wake_engine

    wake, (s0, s1) = near_speech("hey_jarvis")
    said = soxr.resample(wake[round(s0 * MIC.rate) - 800:round(s1 * MIC.rate) + 800], MIC.rate, REALTIME.rate)
    far = far_end(14.0).astype(np.float64)
    i = round(at_s * REALTIME.rate)
    far[i:i + len(said)] = said * active_rms(far) / active_rms(said)
    reply = to_int16(far)
    room = Room()
    echo = room.echo(reply)
    mic = to_int16(echo + room.noise(len(echo)))
    heard = ear_output(mic, reply)
    engine = build_wake_engine(WakeSettings(), Path.cwd())
    try:
        assert engine.process(mic.tobytes()), "the control: the raw microphone hears the wake word"
        engine.reset()
        assert engine.process(heard.tobytes()) == []
    finally:
        engine.close()
