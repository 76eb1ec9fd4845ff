"""raspberrypi/asound.conf: every block, the active one and each commented alternative, is valid ALSA
configuration (a syntax error there would leave the user with no sound at all).

There is no sound card here, so "valid" means: ALSA parses it when PortAudio initialises. A broken file
makes ``Pa_Initialize`` fail, which is what the negative control checks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "raspberrypi" / "asound.conf"
ALSA_CONF = Path("/usr/share/alsa/alsa.conf")


def _sections() -> dict[str, str]:
    """Board name -> the section's ALSA text, with commented-out pcm blocks uncommented."""
    sections: dict[str, list[str]] = {}
    name = "preamble"
    for line in CONF.read_text().splitlines():
        if line.startswith("# ====="):
            name = line.strip("# =")
            continue
        sections.setdefault(name, []).append(line)
    out: dict[str, str] = {}
    for title, lines in sections.items():
        active = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        if active:
            out[title] = "\n".join(lines)
            continue
        blocks: list[str] = []
        depth = 0
        for line in lines:
            body = line[2:] if line.startswith("# ") else None
            if body is None:
                continue
            if depth == 0 and not body.startswith(("pcm.", "ctl.")):
                continue
            blocks.append(body)
            depth += body.count("{") - body.count("}")
        if blocks:
            out[title] = "\n".join(blocks)
    return out


def _parses(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    conf = tmp_path / "asound.conf"
    conf.write_text(text + "\n")
    env = {"ALSA_CONFIG_PATH": f"{ALSA_CONF}:{conf}", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", "import sounddevice"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture(scope="module", autouse=True)
def _alsa_and_portaudio() -> None:
    if not ALSA_CONF.exists():
        pytest.skip(f"{ALSA_CONF} is missing (no ALSA library installed)")
    probe = subprocess.run([sys.executable, "-c", "import sounddevice"], capture_output=True, text=True,
                           timeout=60, check=False)
    if probe.returncode != 0:
        pytest.skip(f"PortAudio/sounddevice cannot initialise here: {probe.stderr.strip()[-200:]}")


def test_the_file_has_the_blocks_the_readme_promises() -> None:
    sections = _sections()
    titles = " | ".join(sections)
    for board in ("ReSpeaker 2-Mics Pi HAT", "ReSpeaker USB Mic Array v2.0", "ReSpeaker 4-Mic Array HAT"):
        assert board in titles, titles
    for title, text in sections.items():
        if title.startswith("ReSpeaker"):
            assert "type dsnoop" in text and "pcm.speaker_mic " in text, title


@pytest.mark.parametrize("title", [t for t in _sections() if t.startswith("ReSpeaker")])
def test_each_block_is_valid_alsa_configuration(title: str, tmp_path: Path) -> None:
    result = _parses(_sections()[title], tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_broken_file_is_noticed(tmp_path: Path) -> None:
    text = _sections()["ReSpeaker 2-Mics Pi HAT"]
    result = _parses(text[: text.index("rate 48000")], tmp_path)  # cut off in the middle of a block
    assert result.returncode != 0
