"""The speech level a claim carries, measured on real synthesized speech at different gains."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from speaker.audio.wavfile import read_wav
from speaker.rooms.level import FLOOR_DBFS, RATE, measure, wake_segment
from tests.fixtures.speech import fixture_info

DETECTION_LAG_S = 0.23
"""openWakeWord fires about this long after the phrase ends (measured in issue 13)."""


def preroll_at_detection(pcm: bytes, speech_end_s: float, lag_s: float = DETECTION_LAG_S) -> bytes:
    """The audio up to the moment of detection, as the runner's pre-roll would hold it."""
    end = int((speech_end_s + lag_s) * RATE) * 2
    return pcm[:end]


def with_sox_gain(path: Path, gain_db: float, tmp_path: Path) -> bytes:
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed")
    out = tmp_path / f"gain{gain_db:g}.wav"
    subprocess.run(["sox", str(path), str(out), "gain", f"{gain_db:g}"], check=True, capture_output=True)
    return read_wav(out, RATE)


def test_the_speaker_nearer_the_voice_measures_a_higher_level(tmp_path: Path) -> None:
    info = fixture_info("hey_jarvis")
    end = info.speech[0][1]
    levels = [measure(wake_segment(preroll_at_detection(with_sox_gain(info.path, g, tmp_path), end)))
              for g in (0.0, -8.0, -16.0)]
    rms = [lv.rms_dbfs for lv in levels]
    peaks = [lv.peak_dbfs for lv in levels]
    assert rms[0] > rms[1] > rms[2]
    assert peaks[0] > peaks[1] > peaks[2]
    # the gain shows up as the same number of dB (the noise bed sits 50 dB below the speech)
    assert rms[0] - rms[1] == pytest.approx(8.0, abs=0.5)
    assert rms[1] - rms[2] == pytest.approx(8.0, abs=0.5)
    assert -30.0 < rms[0] < -6.0  # speech peak-normalised to -6 dBFS: a plausible speech RMS


def test_the_calibration_offset_is_added_and_evens_out_a_quieter_microphone(tmp_path: Path) -> None:
    info = fixture_info("alexa")
    end = info.speech[0][1]
    quiet_mic = wake_segment(preroll_at_detection(with_sox_gain(info.path, -6.0, tmp_path), end))
    loud_mic = wake_segment(preroll_at_detection(with_sox_gain(info.path, 0.0, tmp_path), end))
    raw = measure(quiet_mic)
    calibrated = measure(quiet_mic, offset_db=6.0)
    assert calibrated.rms_dbfs == raw.rms_dbfs
    assert calibrated.calibrated == pytest.approx(raw.rms_dbfs + 6.0)
    assert calibrated.calibrated_peak == pytest.approx(raw.peak_dbfs + 6.0)
    assert calibrated.calibrated == pytest.approx(measure(loud_mic).calibrated, abs=0.5)


def plain_rms_dbfs(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(20 * np.log10(np.sqrt(np.mean(samples**2)) / 32768))


def test_silence_before_the_phrase_does_not_dilute_the_level() -> None:
    info = fixture_info("okay_nabu")
    pcm = read_wav(info.path, RATE)
    preroll = preroll_at_detection(pcm, info.speech[0][1])
    one_s, two_s = wake_segment(preroll, 1000), wake_segment(preroll, 2000)
    # a plain RMS drops by dBs when the segment holds more of the silence before the phrase...
    assert plain_rms_dbfs(one_s) - plain_rms_dbfs(two_s) > 2.0
    # ...the speech level does not
    assert measure(one_s).rms_dbfs == pytest.approx(measure(two_s).rms_dbfs, abs=0.5)


@pytest.mark.parametrize("name", ["okay_nabu", "hey_jarvis", "alexa"])
def test_speakers_detecting_a_little_earlier_or_later_measure_the_same(name: str) -> None:
    info = fixture_info(name)
    pcm = read_wav(info.path, RATE)
    end = info.speech[0][1]
    prompt = measure(wake_segment(preroll_at_detection(pcm, end, 0.15)))
    late = measure(wake_segment(preroll_at_detection(pcm, end, 0.30)))
    assert prompt.rms_dbfs == pytest.approx(late.rms_dbfs, abs=0.5)


def test_numpy_gain_on_raw_pcm_agrees_with_sox() -> None:
    info = fixture_info("hey_jarvis")
    pcm = read_wav(info.path, RATE)
    segment = wake_segment(preroll_at_detection(pcm, info.speech[0][1]))
    samples = np.frombuffer(segment, dtype="<i2").astype(np.float64)
    halved = np.round(samples * 10 ** (-12 / 20)).astype("<i2").tobytes()
    assert measure(segment).rms_dbfs - measure(halved).rms_dbfs == pytest.approx(12.0, abs=0.3)


def test_no_audio_or_digital_silence_reads_the_floor_and_never_fails() -> None:
    assert measure(b"").rms_dbfs == FLOOR_DBFS
    assert measure(b"\x00" * 3201).peak_dbfs == FLOOR_DBFS
    assert measure(b"\x01").rms_dbfs == FLOOR_DBFS
    full = np.full(320, 32767, dtype="<i2").tobytes()
    assert measure(full).rms_dbfs == pytest.approx(0.0, abs=0.01)
    with pytest.raises(ValueError, match="finite"):
        measure(full, offset_db=float("nan"))


def test_the_wake_segment_is_the_tail_of_the_preroll() -> None:
    preroll = bytes(range(256)) * 200 + b"\x07"
    segment = wake_segment(preroll, 100)
    assert len(segment) == 3200
    assert segment == preroll[-3201:-1]
    assert wake_segment(b"\x01\x02", 1000) == b"\x01\x02"
