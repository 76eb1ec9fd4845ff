"""`speaker check --input-file`: the level a speaker hears for the test phrase and the offset that
calibrates it; a quieter microphone is told to add exactly the dB it lacks; the configured input is
recorded when no file is given."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from speaker import check
from speaker.audio.wavfile import write_wav
from speaker.cli import main
from tests.fixtures.speech import fixture_wav, read_pcm


def phrase(path: Path, gain_db: float) -> Path:
    pcm = np.frombuffer(read_pcm(fixture_wav("hey_jarvis")), "<i2").astype(np.float64) * 10 ** (gain_db / 20)
    write_wav(path, np.concatenate([np.zeros(8000), pcm, np.zeros(8000)]).astype("<i2").tobytes(), 16000)
    return path


def suggested(out: str) -> float:
    found = re.search(r"rooms\.level_offset_db: ([+-][0-9.]+)", out)
    assert found, out
    return float(found.group(1))


def test_check_reports_the_level_heard_and_the_calibrating_offset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(check, "PIPEWIRE_ALSA_CONFS", ())
    config = tmp_path / "speaker.yaml"
    config.write_text(f"state_dir: {tmp_path}\n")
    near = phrase(tmp_path / "near.wav", -6.0)
    far = phrase(tmp_path / "quiet_mic.wav", -16.0)
    assert main(["-c", str(config), "check", "--offline", "--input-file", str(near)]) == 0
    out_near = capsys.readouterr().out
    assert "OK   rooms level" in out_near and "dBFS speech level" in out_near
    assert main(["-c", str(config), "check", "--offline", "--input-file", str(far)]) == 0
    out_far = capsys.readouterr().out
    assert suggested(out_far) - suggested(out_near) == pytest.approx(10.0, abs=0.2)


def test_check_says_when_the_recording_holds_no_speech(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(check, "PIPEWIRE_ALSA_CONFS", ())
    config = tmp_path / "speaker.yaml"
    config.write_text(f"state_dir: {tmp_path}\n")
    silent = tmp_path / "silent.wav"
    write_wav(silent, bytes(32000), 16000)
    main(["-c", str(config), "check", "--offline", "--input-file", str(silent)])
    assert "WARN rooms level" in capsys.readouterr().out
