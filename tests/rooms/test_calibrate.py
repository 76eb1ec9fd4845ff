"""Calibration: a quieter microphone is told to add the dBs it lacks, and then claims the reference."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from speaker.audio.wavfile import read_wav, write_wav
from speaker.rooms.calibrate import REFERENCE_DBFS, calibrate, calibrate_file
from speaker.rooms.level import RATE
from tests.fixtures.speech import fixture_wav


def recorded_at(gain_db: float, tmp_path: Path) -> Path:
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed")
    out = tmp_path / f"phrase{gain_db:g}.wav"
    subprocess.run(["sox", str(fixture_wav("hey_jarvis")), str(out), "gain", f"{gain_db:g}"], check=True,
                   capture_output=True)
    return out


def test_two_microphones_calibrated_this_way_claim_the_same_level(tmp_path: Path) -> None:
    hat = calibrate_file(recorded_at(-4.0, tmp_path))
    usb = calibrate_file(recorded_at(-14.0, tmp_path))
    assert hat.problem is None and usb.problem is None
    assert usb.suggested_offset_db - hat.suggested_offset_db == pytest.approx(10.0, abs=0.3)
    for mic, path in ((hat, recorded_at(-4.0, tmp_path)), (usb, recorded_at(-14.0, tmp_path))):
        again = calibrate_file(path, mic.suggested_offset_db)
        assert again.level.calibrated == pytest.approx(REFERENCE_DBFS, abs=0.1)
    text = "\n".join(usb.lines())
    assert f"level_offset_db: {usb.suggested_offset_db:+.1f}" in text


def test_silence_and_clipping_are_reported_instead_of_an_offset(tmp_path: Path) -> None:
    quiet = calibrate(np.zeros(RATE, dtype="<i2").tobytes())
    assert quiet.problem is not None and "no speech" in quiet.problem
    assert "cannot calibrate" in "\n".join(quiet.lines())
    pcm = read_wav(fixture_wav("hey_jarvis"), RATE)
    loud = np.clip(np.frombuffer(pcm, dtype="<i2").astype(np.int32) * 8, -32768, 32767).astype("<i2").tobytes()
    path = tmp_path / "clipped.wav"
    write_wav(path, loud, RATE)
    clipped = calibrate_file(path)
    assert clipped.problem is not None and "clips" in clipped.problem
