"""The rooms bench runs end to end on a real broker and prints its figures (never asserted)."""

from __future__ import annotations

import shutil

import pytest

from speaker.rooms.bench import run

pytestmark = pytest.mark.broker


async def test_the_bench_prints_messages_latency_and_the_share_of_single_answers(
        capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed")
    assert await run(speakers=3, wakes=2, max_delay_ms=10.0) == 0
    out = capsys.readouterr().out
    for figure in ("messages published per wake", "decision latency, the winner", "exactly one answering speaker"):
        assert figure in out
