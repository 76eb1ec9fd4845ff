"""The `speaker` command line against real parts: `check` with a real broker and the emulator, `wake-test`
on a real fixture, `ha-remove`, and the exit codes an operator (and systemd) relies on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from speaker.cli import main
from tests.helpers.broker import Broker
from tests.helpers.emulator_thread import emulator_in_thread
from tests.helpers.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-emulator-check"


@pytest.fixture
def emulator_url() -> Iterator[str]:
    """The emulator in a thread of its own (the CLI runs its own event loop)."""
    with emulator_in_thread(api_key=KEY) as emu:
        yield emu.url


def _config(tmp_path: Path, *, url: str, broker_port: int, extra: str = "") -> Path:
    mic = tmp_path / "mic.wav"
    mic.write_bytes((ROOT / "speaker" / "assets" / "demo_input.wav").read_bytes())
    path = tmp_path / "speaker.yaml"
    path.write_text(
        f"audio:\n  input:\n    file: {mic}\n  output:\n    file: {tmp_path / 'out.wav'}\n"
        f"realtime:\n  url: {url}\n  api_key: {{env: SPEAKER_CHECK_KEY}}\n"
        f"mqtt:\n  host: 127.0.0.1\n  port: {broker_port}\n  site_id: kitchen\n"
        f"tools:\n  packs: [{ROOT / 'tools' / 'zigbee2mqtt.yaml'}]\n"
        f"state_dir: {tmp_path}\n{extra}")
    return path


def _check(config: Path, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "speaker", "-c", str(config), "check", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=90,
                          env={**os.environ, "SPEAKER_CHECK_KEY": key})


def test_check_all_ok(tmp_path: Path, broker: Broker, emulator_url: str) -> None:
    proc = _check(_config(tmp_path, url=emulator_url, broker_port=broker.port), KEY)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for name in ("config", "api key", "wake word", "tools", "audio in", "audio out", "mqtt", "realtime"):
        assert any(line.startswith("OK") and f" {name} " in f" {line[5:]} " for line in lines), (name, proc.stdout)
    assert "z2m_light_set" in proc.stdout  # the tools the model will see
    assert KEY not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_check_wrong_key_unreachable_broker_missing_input(tmp_path: Path, emulator_url: str) -> None:
    config = _config(tmp_path, url=emulator_url, broker_port=free_port())
    (tmp_path / "mic.wav").unlink()
    proc = _check(config, "sk-wrong-key")
    assert proc.returncode == 1
    out = proc.stdout
    assert [line.split()[1] for line in out.splitlines() if line.startswith("FAIL")] == ["audio", "mqtt", "realtime"]
    assert "hint: check the key" in out
    assert "not reachable" in out
    assert "sk-wrong-key" not in out + proc.stderr


def test_check_bad_device(tmp_path: Path, broker: Broker, emulator_url: str) -> None:
    config = _config(tmp_path, url=emulator_url, broker_port=broker.port)
    text = config.read_text().replace(f"    file: {tmp_path / 'mic.wav'}\n", "    device: no-such-microphone\n")
    config.write_text(text)
    proc = _check(config, KEY)
    assert proc.returncode == 1
    fail = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fail) == 1 and "audio in" in fail[0], proc.stdout
    assert "speaker devices" in proc.stdout  # the hint says where to look


def test_check_offline_and_json_mask_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEAKER_CHECK_KEY", "sk-should-not-print")
    config = _config(tmp_path, url="ws://127.0.0.1:9/v1/realtime", broker_port=1)
    assert main(["-c", str(config), "check", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "SKIP realtime" in out and "sk-should-not-print" not in out
    assert main(["-c", str(config), "check", "--json"]) == 0
    dump = json.loads(capsys.readouterr().out)
    assert dump["realtime"]["api_key"] == "<secret from environment variable SPEAKER_CHECK_KEY>"


def test_config_error_exit_code_and_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("wake:\n  thresold: 0.5\n")
    assert main(["-c", str(bad), "check"]) == 2  # the unit's RestartPreventExitStatus=2: no restart loop
    assert f"{bad}:2 wake.thresold: unknown key" in capsys.readouterr().err


def test_wake_test_prints_one_json_line_per_detection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wake-test", str(ROOT / "speaker" / "assets" / "demo_input.wav")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 1 and lines[0]["model"] == "hey_jarvis" and lines[0]["score"] > 0.5
    assert set(lines[0]) == {"t", "model", "score"}


def test_ha_remove_clears_retained_discovery(tmp_path: Path, broker: Broker) -> None:
    import paho.mqtt.client as mqtt

    config = _config(tmp_path, url="ws://127.0.0.1:9/v1/realtime", broker_port=broker.port)
    topic = "homeassistant/sensor/speaker_kitchen/state/config"
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    pub.publish(topic, '{"name": "old"}', qos=1, retain=True).wait_for_publish(5)
    proc = subprocess.run([sys.executable, "-m", "speaker", "-c", str(config), "ha-remove"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got: list[bytes] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: got.append(m.payload)
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe(topic)
    sub.loop_start()
    threading.Event().wait(1.0)
    sub.loop_stop()
    pub.loop_stop()
    assert got == []  # nothing retained any more


# ------------------------------------------------------------------ no config file


def _no_config_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`speaker ARGS` from a directory outside the repository, with no config anywhere it looks."""
    if Path("/etc/speaker/speaker.yaml").exists():
        pytest.skip("/etc/speaker/speaker.yaml exists on this machine: it would be found")
    env = {k: v for k, v in os.environ.items() if k != "SPEAKER_CONFIG"}
    return subprocess.run([sys.executable, "-m", "speaker", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=90)


def test_wake_test_runs_on_the_defaults_from_any_directory(tmp_path: Path) -> None:
    wav = tmp_path / "recording.wav"
    wav.write_bytes((ROOT / "speaker" / "assets" / "demo_input.wav").read_bytes())
    proc = _no_config_run(tmp_path, "wake-test", "recording.wav")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [d["model"] for d in lines] == ["hey_jarvis"], proc.stdout  # the built-in default model, real
    notice = [line for line in proc.stderr.splitlines() if "using the built-in defaults" in line]
    assert len(notice) == 1, proc.stderr
    assert "/etc/speaker/speaker.yaml" in notice[0] and str(tmp_path / "config" / "speaker.yaml") in notice[0]


@pytest.mark.parametrize("command", ["run", "check"])
def test_run_and_check_without_a_config_name_every_place_they_looked(tmp_path: Path, command: str) -> None:
    proc = _no_config_run(tmp_path, command)
    assert proc.returncode == 2  # a config error: systemd does not restart-loop on it
    for place in ("--config FILE (not given)", "$SPEAKER_CONFIG (not set)", "/etc/speaker/speaker.yaml",
                  str(tmp_path / "config" / "speaker.yaml")):
        assert place in proc.stderr, proc.stderr
    assert "using the built-in defaults" not in proc.stderr


def test_a_named_config_that_does_not_exist_is_always_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    wav = str(ROOT / "speaker" / "assets" / "demo_input.wav")
    proc = _no_config_run(tmp_path, "--config", "missing.yaml", "wake-test", wav)
    assert proc.returncode == 2 and "missing.yaml: file not found" in proc.stderr, proc.stderr
    assert proc.stdout == ""  # no detection printed from the defaults
    monkeypatch.setenv("SPEAKER_CONFIG", str(tmp_path / "gone.yaml"))
    assert main(["wake-test", wav]) == 2
    assert f"$SPEAKER_CONFIG={tmp_path / 'gone.yaml'}: file not found" in capsys.readouterr().err
