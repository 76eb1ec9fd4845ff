"""The reference is what really played, released as the sink's played_ms advances."""

from __future__ import annotations

import numpy as np

from speaker.aec.factory import build_echo_chain
from speaker.aec.reference import ReferenceTap
from speaker.aec.room import RoomLoopback, RoomSpec
from speaker.config.echo import EchoSettings
from tests.helpers.room import far_end


async def test_released_as_played_after_volume_and_never_what_was_cleared() -> None:
    loop = RoomLoopback(RoomSpec(), duration_s=1.0)
    got: list[bytes] = []
    tap = ReferenceTap(loop.sink, got.append)
    async with tap:
        tone = (np.ones(24000) * 10000).astype(np.int16).tobytes()  # 1 s
        tap.write(tone)
        assert tap.release() == 0  # written is not played
        loop.sink.take(2 * 7200)  # 300 ms leave the loudspeaker
        assert tap.release() == 2 * 7200
        tap.set_volume(50)
        loop.sink.take(2 * 2400)
        tap.release()
        assert np.frombuffer(got[-1], dtype="<i2")[0] == 2500  # 10000 x volume gain 0.25
        tap.clear()  # barge-in: the rest is never played, so never released
        loop.sink.take(2 * 2400)
        assert tap.release() == 0
    assert sum(len(c) for c in got) == 2 * 9600


async def test_the_live_path_cancels_the_echo() -> None:
    """The wiring the daemon uses: the reply goes out through the tap, the microphone comes in
    through the cancelling source, paced only by the loopback's frames (virtual time)."""
    chain = build_echo_chain(EchoSettings())
    loop = RoomLoopback(RoomSpec(delay_ms=80), duration_s=9.0)
    tap = chain.tap(loop.sink)
    mic_energy = out_energy = 0.0
    async with tap, chain.source(loop.source, tap) as source:
        tap.write(far_end(8.0).tobytes())
        n = 0
        async for frame in source.frames():
            n += 1
            if n > 300:  # after 3 s
                out = np.frombuffer(frame, dtype="<i2").astype(np.float64)
                out_energy += float(out @ out)
    report = chain.monitor.report()
    assert report.safe, report.reason
    assert report.erle_db is not None and report.erle_db >= 30
    assert chain.estimator is not None and chain.estimator.delay_ms is not None
    assert abs(chain.estimator.delay_ms + chain.canceller.reference.offset_ms - 80) <= 10
    del mic_energy, out_energy
