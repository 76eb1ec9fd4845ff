"""`speaker check`: offline runs do not fail on what they skipped, one tool count, and the ALSA-default-is-
PipeWire trap of a system service (pipewire-alsa installed, no PipeWire server for the service's user)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from speaker import check
from speaker.cli import main
from speaker.config import load_settings

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "speaker.yaml"
    path.write_text(f"state_dir: {tmp_path}\n{text}")
    return path


def test_offline_check_passes_before_the_api_key_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(check, "PIPEWIRE_ALSA_CONFS", ())
    config = _config(tmp_path, "mqtt:\n  password: {env: SPEAKER_TEST_NO_SUCH_VAR}\n")
    assert main(["-c", str(config), "check", "--offline"]) == 0  # what the installer can run at once
    out = capsys.readouterr().out
    assert "SKIP api key" in out and "OPENAI_API_KEY is not set" in out
    assert "SKIP mqtt secret" in out
    assert "0 failed" in out


def test_one_tool_count_includes_the_timer_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(check, "PIPEWIRE_ALSA_CONFS", ())
    config = _config(tmp_path, f"tools:\n  packs: [{ROOT / 'tools' / 'zigbee2mqtt.yaml'}]\n")
    main(["-c", str(config), "check", "--offline"])
    out = capsys.readouterr().out
    listed = [line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("  local ")]
    line = next(line for line in out.splitlines() if line.startswith("OK   tools"))
    assert f" {len(listed)} local tool(s) offered" in line, (line, listed)  # the count is the list shown
    assert any("timer" in name for name in listed)  # the timer tools the app adds are counted
    assert "offered" not in caplog.text.replace("local tool(s) offered", "")  # no second, smaller "offered"


@pytest.fixture
def pipewire_alsa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """pipewire-alsa's conf file present; a runtime dir for this user with no PipeWire socket in it."""
    conf = tmp_path / "99-pipewire-default.conf"
    conf.write_text("pcm.!default { type pipewire }\n")
    monkeypatch.setattr(check, "PIPEWIRE_ALSA_CONFS", (conf,))
    runtime = tmp_path / "run"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("PIPEWIRE_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("PIPEWIRE_REMOTE", raising=False)
    yield runtime


def test_check_says_a_system_service_cannot_reach_pipewire_through_alsa_default(
        tmp_path: Path, pipewire_alsa: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "")  # device: null = ALSA's default, for input and output
    assert main(["-c", str(config), "check", "--offline"]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("FAIL alsa default"))
    assert "from pipewire-alsa" in line and str(pipewire_alsa / "pipewire-0") in line
    assert "audio.input.device and audio.output.device" in line
    assert "user service" in out  # the hint names the two ways out


def test_no_pipewire_complaint_with_a_server_or_a_named_card(tmp_path: Path, pipewire_alsa: Path) -> None:
    defaults = load_settings([_config(tmp_path, "")]).settings
    with socket.socket(socket.AF_UNIX) as server:  # a PipeWire server of this user: default works
        server.bind(str(pipewire_alsa / "pipewire-0"))
        assert check.pipewire_default_unreachable(defaults) is None
    (pipewire_alsa / "pipewire-0").unlink()  # the server is gone
    assert check.pipewire_default_unreachable(defaults) is not None
    named = load_settings([_config(tmp_path, "audio:\n  input: {device: 'plughw:CARD=ArrayUAC10,DEV=0'}\n"
                                             "  output: {device: 'plughw:CARD=Headphones,DEV=0'}\n")]).settings
    assert check.pipewire_default_unreachable(named) is None
