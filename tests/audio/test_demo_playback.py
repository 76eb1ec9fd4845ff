"""`speaker demo` with a sound card: the reply is played on the device (and recorded to the WAV)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.pulse import Pulse

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.audio
@pytest.mark.slow
def test_demo_plays_the_reply_on_the_sound_card(pulse: Pulse, tmp_path: Path) -> None:
    rec = pulse.start_recording()
    proc = subprocess.run([sys.executable, "-m", "speaker", "demo", "--play", "yes", "--output",
                           str(tmp_path / "reply.wav")], cwd=ROOT, env=pulse.env, capture_output=True, text=True,
                          timeout=120)
    heard = np.frombuffer(rec.stop(), dtype="<i2").astype(np.float32)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "playing the reply on the default output device" in proc.stdout
    # about 3 s of speech came out of the speaker: count 100 ms windows with real energy
    windows = heard[: len(heard) // 1600 * 1600].reshape(-1, 1600)
    loud = int((np.sqrt((windows ** 2).mean(axis=1)) > 300).sum())
    assert loud >= 15, f"only {loud} loud 100 ms windows"
