"""The whole-file WAV helpers (wake-test, bench, sounds): any encoding sox writes, and a writer that
the stdlib reads back."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from speaker.audio.wavfile import WavFormatError, read_wav, write_wav
from tests.audio.signals import dominant_hz, pcm, rms, samples, tone


@pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox")
@pytest.mark.parametrize("encoding", [["-b", "24", "-e", "signed-integer"], ["-b", "32", "-e", "floating-point"],
                                      ["-b", "8", "-e", "unsigned-integer"]])
def test_sox_files_of_any_encoding_read_as_16k_mono(tmp_path: Path, encoding: list[str]) -> None:
    # the stdlib wave module refuses the first two (extensible 24-bit, float); 8-bit is unsigned
    path = tmp_path / "tone.wav"
    subprocess.run(["sox", "-n", "-r", "48000", "-c", "2", *encoding, str(path), "synth", "0.5", "sine", "440",
                    "vol", "0.5"], check=True, capture_output=True, timeout=30)
    out = samples(read_wav(path, 16000))
    assert out.size == 8000
    assert dominant_hz(out[800:-800], 16000) == pytest.approx(440, abs=3)
    assert rms(out[800:-800]) == pytest.approx(0.5 * 32767 / np.sqrt(2), rel=0.03)


def test_written_files_read_back_with_the_stdlib_and_with_read_wav(tmp_path: Path) -> None:
    data = pcm(tone(300, 0.25, 24000, channels=2))
    path = tmp_path / "sub" / "out.wav"
    write_wav(path, data, 24000, channels=2)
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 24000)
        assert w.readframes(w.getnframes()) == data
    assert read_wav(path, 24000, channels=[1]) == pcm(tone(300, 0.25, 24000))


def test_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "text.wav").write_bytes(b"hello, this is not audio")
    with pytest.raises(WavFormatError, match=r"text\.wav: not a WAV file"):
        read_wav(tmp_path / "text.wav", 16000)
    write_wav(tmp_path / "mono.wav", pcm(tone(300, 0.1, 16000)), 16000)
    with pytest.raises(WavFormatError, match=r"mono\.wav: has 1 channel\(s\); channel 1 does not exist"):
        read_wav(tmp_path / "mono.wav", 16000, channels=[1])
