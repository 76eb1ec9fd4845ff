"""StreamResampler: chunked output equals a one-shot resample, rates and lengths are right."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from speaker.audio.resample import StreamResampler
from tests.audio.signals import dominant_hz, pcm, peak, samples, tone


def _stream(rs: StreamResampler, data: bytes, chunk: int) -> bytes:
    out = b"".join(rs.process(data[i:i + chunk]) for i in range(0, len(data), chunk))
    return out + rs.flush()


def test_equal_rates_pass_bytes_through_unchanged() -> None:
    rs = StreamResampler(16000, 16000)
    data = pcm(tone(440, 0.1, 16000))
    assert rs.passthrough
    assert rs.process(data) is data
    assert rs.flush() == b""


@pytest.mark.parametrize(("src", "dst"), [(16000, 24000), (24000, 48000), (48000, 16000), (44100, 16000)])
def test_chunked_stream_matches_one_shot_resampling(src: int, dst: int) -> None:
    x = tone(1000, 1.0, src, 0.5)
    out = samples(_stream(StreamResampler(src, dst), pcm(x), chunk=2 * src // 100))  # 10 ms chunks
    assert abs(out.size - dst) <= 2
    assert dominant_hz(out, dst) == pytest.approx(1000, abs=3)
    reference = soxr.resample(x, src, dst, quality="HQ")
    n = min(out.size, reference.size)
    # same filter, so chunk boundaries must not show: differences are rounding only
    assert np.abs(out[:n].astype(np.int32) - reference[:n].astype(np.int32)).max() <= 2


def test_odd_byte_chunks_are_reassembled() -> None:
    data = pcm(tone(500, 0.2, 16000))
    rs = StreamResampler(16000, 24000)
    out = _stream(rs, data, chunk=331)  # odd: splits samples across calls
    whole = _stream(StreamResampler(16000, 24000), data, chunk=len(data))
    assert len(out) == len(whole)
    assert np.abs(samples(out).astype(np.int32) - samples(whole).astype(np.int32)).max() <= 2


def test_reset_forgets_buffered_input() -> None:
    kept, dropped = StreamResampler(24000, 48000), StreamResampler(24000, 48000)
    for rs in (kept, dropped):
        rs.process(pcm(tone(440, 0.05, 24000)))
    dropped.reset()
    assert peak(samples(kept.flush())) > 1000  # the filter did hold audio back...
    assert peak(samples(dropped.flush())) == 0  # ...and reset threw it away
