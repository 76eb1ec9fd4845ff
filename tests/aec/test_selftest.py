"""``speaker echo-test`` headless: through the simulated room (a sink → room → source loopback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from speaker.aec.factory import build_echo_chain
from speaker.aec.room import RoomLoopback, RoomSpec
from speaker.aec.selftest import run_echo_test
from speaker.config.echo import EchoSettings

CONFIG = Path(__file__).parents[2] / "config" / "speaker.yaml"


async def test_reports_the_room_delay_and_a_safe_erle() -> None:
    loop = RoomLoopback(RoomSpec(delay_ms=120), duration_s=7.0)
    result = await run_echo_test(loop.source, loop.sink, build_echo_chain(EchoSettings()))
    assert result.delay_ms is not None and abs(result.delay_ms - 120) <= 10
    assert result.erle_db is not None and result.erle_db >= 30
    assert result.linear_erle_db is not None and result.linear_erle_db >= 6  # the wake word's ear cancels too
    assert result.safe


async def test_without_cancelling_barge_in_is_not_safe() -> None:
    loop = RoomLoopback(RoomSpec(delay_ms=60), duration_s=7.0)
    result = await run_echo_test(loop.source, loop.sink, build_echo_chain(EchoSettings(enabled=False)))
    assert result.delay_ms is not None and abs(result.delay_ms - 60) <= 10  # the delay is still measured
    assert not result.safe and result.canceller == "pass-through"


def test_the_command_prints_json() -> None:
    done = subprocess.run([sys.executable, "-m", "speaker", "--config", str(CONFIG), "echo-test", "--simulate",
                           "--sim-delay-ms", "40", "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert abs(result["delay_ms"] - 40) <= 10 and result["erle_db"] >= 30 and result["safe"] is True


def test_with_files_and_no_echo_heard(tmp_path: Path) -> None:
    """Headless with files: the recording (silence) never hears the speaker."""
    silence = tmp_path / "mic.raw"
    silence.write_bytes(bytes(16000 * 2 * 7))
    out = tmp_path / "played.wav"
    done = subprocess.run([sys.executable, "-m", "speaker", "--config", str(CONFIG), "echo-test", "--input-file",
                           str(silence), "--output-file", str(out), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["delay_ms"] is None and "no echo" in result["reason"]
    assert out.stat().st_size > 24000 * 2  # the test signal was played
