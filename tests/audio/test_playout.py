"""The output jitter buffer, driven with a fake clock: prefill, fades, clear, played position."""

from __future__ import annotations

import numpy as np
import pytest

from speaker.audio.playout import Playout
from tests.audio.signals import peak, tone

RATE = 24000
BLOCK = 240  # 10 ms device blocks


def render(p: Playout, now: float, delay: float = 0.0, frames: int = BLOCK, channels: int = 1) -> np.ndarray:
    out = np.full((frames, channels), 12345, dtype=np.int16)  # garbage that must be overwritten
    p.render(out, now, delay)
    return out


def test_starts_after_a_small_prefill_or_a_short_wait() -> None:
    p = Playout(RATE, prefill_ms=20)
    p.push(tone(440, 0.010, RATE), now=0.0)  # 10 ms: less than the prefill
    assert peak(render(p, 0.005)) == 0
    assert p.queued == 240
    assert peak(render(p, 0.021)) > 1000  # waited the prefill time: plays what there is
    q = Playout(RATE, prefill_ms=20)
    q.push(tone(440, 0.030, RATE), now=0.0)
    assert peak(render(q, 0.0)) > 1000  # enough queued: plays at once


def test_fade_in_at_start_and_fade_out_when_the_buffer_runs_dry() -> None:
    p = Playout(RATE, fade_ms=5, prefill_ms=0)
    loud = np.full(BLOCK * 2, 20000, dtype=np.int16)
    p.push(loud, 0.0)
    first = render(p, 0.0)[:, 0].astype(np.int32)
    fade = int(RATE * 0.005)
    assert first[0] < 200  # starts near zero...
    assert np.all(np.diff(first[:fade]) > 0)  # ...rises smoothly...
    assert np.all(first[fade:] == 20000)  # ...then the audio itself
    last = render(p, 0.01)[:, 0].astype(np.int32)
    assert last[-1] < 200 and last[BLOCK - fade - 1] == 20000
    assert peak(render(p, 0.02)) == 0  # silence afterwards, not garbage


def test_stereo_devices_get_the_mono_signal_on_both_channels() -> None:
    p = Playout(RATE, prefill_ms=0)
    p.push(tone(440, 0.02, RATE), 0.0)
    out = render(p, 0.0, channels=2)
    assert np.array_equal(out[:, 0], out[:, 1])


def test_underrun_fills_silence_and_the_next_audio_fades_in() -> None:
    p = Playout(RATE, fade_ms=5, prefill_ms=0)
    p.push(np.full(100, 20000, dtype=np.int16), 0.0)
    out = render(p, 0.0)[:, 0]
    assert peak(out[100:]) == 0 and out[60] > 0
    p.push(np.full(BLOCK, 20000, dtype=np.int16), 0.01)
    again = render(p, 0.01)[:, 0]
    assert again[0] < 200


def test_played_position_counts_only_audio_that_left_the_device() -> None:
    p = Playout(RATE, prefill_ms=0)
    p.push(tone(440, 0.1, RATE), 0.0)  # 2400 frames
    for k in range(10):
        render(p, now=0.01 * k, delay=0.05)  # each block reaches the DAC 50 ms after its callback
    assert p.consumed == 2400
    assert p.played(0.04) == 0  # nothing has reached the DAC yet
    assert p.played(0.06) == pytest.approx(240, abs=1)  # 10 ms of the first block
    assert p.played(0.10) == pytest.approx(1200, abs=1)
    assert p.played(0.20) == 2400
    assert p.played(0.10) == 2400  # never goes back
    assert p.idle(0.20)


def test_clear_keeps_only_a_short_fade_out() -> None:
    p = Playout(RATE, fade_ms=5, prefill_ms=0)
    p.push(np.full(RATE, 20000, dtype=np.int16), 0.0)  # 1 s
    render(p, 0.0)
    dropped = p.clear()
    fade = int(RATE * 0.005)
    assert dropped == RATE - BLOCK - fade
    assert p.queued == fade
    out = render(p, 0.01)[:, 0].astype(np.int32)
    assert out[0] > 15000 and np.all(np.diff(out[:fade]) <= 0) and out[fade - 1] < 200
    assert peak(out[fade:]) == 0
    assert peak(render(p, 0.02)) == 0


def test_clear_before_playback_started_drops_everything() -> None:
    p = Playout(RATE, prefill_ms=20)
    p.push(tone(440, 0.005, RATE), 0.0)
    assert p.clear() == 120
    assert peak(render(p, 1.0)) == 0


def test_gain_scales_the_output() -> None:
    p = Playout(RATE, fade_ms=1, prefill_ms=0)
    p.gain = 0.25
    p.push(np.full(BLOCK * 2, 20000, dtype=np.int16), 0.0)
    out = render(p, 0.0)[:, 0]
    assert out[100] == 5000
