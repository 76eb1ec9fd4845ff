"""The canceller on the simulated room: echo at -6 dB re the played reply, RT60 0.3 s, 60 ms."""

from __future__ import annotations

import numpy as np
import pytest

from speaker.aec.webrtc import WebRtcCanceller
from tests.aec.support import erle_db, frames_inside, run, vad_frames
from tests.fixtures.speech import tools_missing
from tests.helpers.room import scene


def test_echo_reduced_by_30_db_after_convergence() -> None:
    s = scene(seconds=10.0)
    out = run(WebRtcCanceller(), s.mic, s.reference)
    assert erle_db(s.mic, out, s.echo) >= 30.0


@pytest.mark.parametrize("block", [320, 400, 117])
def test_blocks_of_any_size_come_back_the_same_size_and_cancelled(block: int) -> None:
    s = scene(seconds=8.0)
    out = run(WebRtcCanceller(), s.mic, s.reference, block=block)
    # sizes that are not whole 10 ms frames come back 10 ms late: compare like with like
    lag = 0 if block % 160 == 0 else 160
    assert erle_db(s.mic[: len(out) - lag], out[lag:], s.echo) >= 30.0


def test_without_reference_nothing_is_cancelled() -> None:
    s = scene(seconds=6.0)
    out = run(WebRtcCanceller(), s.mic, np.zeros_like(s.reference))
    assert erle_db(s.mic, out, s.echo) < 6.0


@pytest.mark.skipif(tools_missing() is not None, reason=str(tools_missing()))
def test_near_end_speech_6_db_below_the_echo_survives() -> None:
    s = scene(seconds=10.0, near="speech_end", near_at_s=5.0, near_db=-6.0)
    assert s.speech is not None
    out = run(WebRtcCanceller(), s.mic, s.reference)
    inside = frames_inside(vad_frames(out), s.speech)
    converged = np.arange(len(inside)) * 0.03 >= 2.0
    raw, cancelled = vad_frames(s.mic), vad_frames(out)
    # before: the speaker's own voice is 'speech' nearly everywhere
    assert raw[converged & ~inside].mean() > 0.5
    # after: the words are there where they were spoken (long enough for the front end's 90 ms
    # speech start; AEC3 ducks some double-talk frames), and nothing else is
    assert cancelled[inside].mean() >= 0.4
    assert longest_run(cancelled & inside) >= 3
    assert cancelled[converged & ~inside].mean() <= 0.02


def longest_run(flags: np.ndarray) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best
