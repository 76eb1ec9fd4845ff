"""`speaker wake-test FILE`: one JSON line per detection, exit 0; a bad file is exit 2 with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soxr

from speaker.audio.wavfile import write_wav
from speaker.cli import main
from tests.fixtures.speech import fixture_info, fixture_wav, read_pcm


def _config(tmp_path: Path, text: str = "wake:\n  engine: openwakeword\n  models:\n    - name: hey_jarvis\n") -> Path:
    path = tmp_path / "speaker.yaml"
    path.write_text(text)
    return path


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_prints_one_json_line_per_detection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = fixture_info("hey_jarvis")
    assert main(["-c", str(_config(tmp_path)), "wake-test", str(info.path)]) == 0
    out = capsys.readouterr().out
    lines = _lines(out)
    assert len(lines) == 1, out
    line = lines[0]
    assert set(line) == {"t", "model", "score"}
    assert line["model"] == "hey_jarvis"
    assert isinstance(line["t"], float) and info.speech[0][0] < line["t"] < info.speech[0][1] + 1.0
    assert line["t"] == round(line["t"], 3)
    assert isinstance(line["score"], float) and 0.5 < line["score"] <= 1.0
    assert line["score"] == round(line["score"], 4)


def test_engine_model_and_threshold_options_override_the_config(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    wav = fixture_wav("alexa")
    args = ["-c", str(_config(tmp_path)), "wake-test", str(wav), "--engine", "microwakeword"]
    assert main([*args, "--model", "alexa", "--model", "hey_jarvis"]) == 0
    assert [line["model"] for line in _lines(capsys.readouterr().out)] == ["alexa"]
    assert main([*args, "--model", "alexa", "--threshold", "0.999"]) == 0  # above anything mww outputs
    assert _lines(capsys.readouterr().out) == []


def test_several_utterances_give_several_lines_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pcm = read_pcm(fixture_wav("hey_jarvis")) + read_pcm(fixture_wav("alexa"))
    wav = tmp_path / "two.wav"
    write_wav(wav, pcm, 16000)
    config = _config(tmp_path, "wake:\n  models:\n    - name: hey_jarvis\n    - name: alexa\n      label: computer\n")
    assert main(["-c", str(config), "wake-test", str(wav)]) == 0
    lines = _lines(capsys.readouterr().out)
    assert [line["model"] for line in lines] == ["hey_jarvis", "computer"]
    assert lines[0]["t"] < lines[1]["t"]  # type: ignore[operator]


def test_other_sample_rates_are_resampled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = np.frombuffer(read_pcm(fixture_wav("hey_jarvis")), dtype="<i2").astype(np.float32)
    wav = tmp_path / "48k.wav"
    write_wav(wav, np.clip(soxr.resample(samples, 16000, 48000), -32768, 32767).astype("<i2").tobytes(), 48000)
    assert main(["-c", str(_config(tmp_path)), "wake-test", str(wav)]) == 0
    assert [line["model"] for line in _lines(capsys.readouterr().out)] == ["hey_jarvis"]


def test_silence_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wav = tmp_path / "silence.wav"
    write_wav(wav, bytes(32000 * 3), 16000)
    assert main(["-c", str(_config(tmp_path)), "wake-test", str(wav)]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("missing.wav", None, "No such file"),
    ("text.wav", b"hello, this is not audio", "not a WAV file"),
])
def test_unreadable_file_is_exit_2_with_a_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                                                 content: bytes | None, reason: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main(["-c", str(_config(tmp_path)), "wake-test", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"cannot read {path}" in captured.err and reason in captured.err


def test_a_model_the_engine_does_not_have_is_a_config_error(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    wav = fixture_wav("hey_jarvis")
    assert main(["-c", str(_config(tmp_path)), "wake-test", str(wav), "--engine", "microwakeword",
                 "--model", "hey_rhasspy"]) == 2
    assert "hey_rhasspy" in capsys.readouterr().err
