"""`speaker bench` on a few seconds of audio: it runs, prints both engines, and its audio is seeded."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from speaker import bench


@pytest.fixture
def keep_affinity() -> Iterator[None]:
    """The bench pins the whole process to one core; give the rest of the test run its cores back."""
    if not hasattr(os, "sched_getaffinity"):
        yield
        return
    cpus = os.sched_getaffinity(0)
    try:
        yield
    finally:
        os.sched_setaffinity(0, cpus)


def test_bench_prints_a_row_per_engine(keep_affinity: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(bench, "REPEATS", {"openwakeword": 1, "microwakeword": 1})
    assert bench.main(minutes=0.1) == 0
    out = capsys.readouterr().out
    for engine in ("openwakeword", "microwakeword"):
        row = re.search(rf"^\s+{engine}\s+1\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s", out, re.MULTILINE)
        assert row, out
        bare, gate, ratio = (float(x) for x in row.groups())
        assert 0 < bare < 1 and 0 < gate < 1 and ratio == pytest.approx(gate / bare, rel=0.06)  # printed rounded
    assert "as shipped" in out
    assert list(tmp_path.glob("room-speaker/bench-0.1min-*.wav"))


def test_bench_audio_is_seeded_and_cached(tmp_path: Path) -> None:
    first = bench.bench_audio(0.1, cache_dir=tmp_path / "a")
    assert bench.bench_audio(0.1, cache_dir=tmp_path / "a") == first
    other = bench.bench_audio(0.1, cache_dir=tmp_path / "b")
    assert other.read_bytes() == first.read_bytes()
    assert abs(first.stat().st_size - 44 - 0.1 * 60 * 32000) < 2


def test_bench_refuses_a_non_positive_length(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(minutes=0) == 2
