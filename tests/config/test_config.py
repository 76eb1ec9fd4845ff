"""Configuration errors name the file, the line and the key path; secrets never leak."""

from __future__ import annotations

from pathlib import Path

import pytest

from speaker.config import check_secrets, load_settings, masked_dump
from speaker.errors import ConfigError, SecretError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "speaker.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(*paths: Path) -> str:
    with pytest.raises(ConfigError) as exc:
        load_settings(list(paths))
    return str(exc.value)


def test_shipped_example_config_is_valid() -> None:
    loaded = load_settings([ROOT / "config" / "speaker.yaml"])
    assert loaded.settings.realtime.model == "gpt-realtime-2.1"
    assert loaded.settings.wake.models[0].name == "hey_jarvis"


def test_defaults_without_a_file_section(tmp_path: Path) -> None:
    settings = load_settings([write(tmp_path, "")]).settings
    assert settings.realtime.turn_detection.type == "local"
    assert settings.conversation.idle_close_s >= settings.conversation.follow_up_s


def test_unknown_key_names_file_line_and_path(tmp_path: Path) -> None:
    p = write(tmp_path, "wake:\n  models:\n    - name: hey_jarvis\n  refractroy_s: 3\n")
    msg = error_of(p)
    assert f"{p}:4 wake.refractroy_s: unknown key" in msg


def test_wrong_type(tmp_path: Path) -> None:
    p = write(tmp_path, "vad:\n  aggressiveness: high\n")
    assert f"{p}:2 vad.aggressiveness: Input should be a valid integer" in error_of(p)


def test_out_of_range_in_a_list(tmp_path: Path) -> None:
    p = write(tmp_path, "wake:\n  models:\n    - name: alexa\n    - name: hey_jarvis\n      threshold: 1.5\n")
    assert f"{p}:5 wake.models[1].threshold: Input should be less than 1" in error_of(p)


def test_discriminated_union_field(tmp_path: Path) -> None:
    p = write(tmp_path, "realtime:\n  turn_detection:\n    type: server_vad\n    threshold: 2\n")
    assert f"{p}:4 realtime.turn_detection.threshold: Input should be less than or equal to 1" in error_of(p)


def test_unknown_wake_model_explains_choices(tmp_path: Path) -> None:
    p = write(tmp_path, "wake:\n  engine: microwakeword\n  models:\n    - name: hey_rhasspy\n")
    msg = error_of(p)
    assert f"{p}:2 wake:" in msg or f"{p}:1 wake:" in msg
    assert "'hey_rhasspy' is not a built-in microwakeword model" in msg


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    p = write(tmp_path, "audio:\n  input:\n    channels: [0, 1\n  output: {}\n")
    msg = error_of(p)
    assert msg.startswith(f"{p}:") and "YAML syntax error" in msg


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    p = write(tmp_path, "vad:\n  aggressiveness: 2\n  aggressiveness: 3\n")
    assert f"{p}:3 vad.aggressiveness: duplicate key" in error_of(p)


def test_inline_secret_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "realtime:\n  api_key: sk-live-123\n")
    msg = error_of(p)
    assert f"{p}:2 realtime.api_key: secrets must not be written in the config" in msg
    assert "sk-live-123" not in msg


def test_missing_secret_names_source_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPEAKER_TEST_KEY", raising=False)
    p = write(tmp_path, "realtime:\n  api_key: {env: SPEAKER_TEST_KEY}\nmqtt:\n  password: {file: /nonexistent/pw}\n")
    loaded = load_settings([p])
    with pytest.raises(SecretError) as exc:
        check_secrets(loaded)
    msg = str(exc.value)
    assert f"{p}:2 realtime.api_key: environment variable SPEAKER_TEST_KEY is not set" in msg
    assert f"{p}:4 mqtt.password: cannot read secret file /nonexistent/pw" in msg
    check_secrets(loaded, skip=["realtime", "mqtt"])  # the offline demo needs neither


def test_secret_values_are_masked_in_dumps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEAKER_TEST_KEY", "sk-very-secret")
    p = write(tmp_path, "realtime:\n  api_key: {env: SPEAKER_TEST_KEY}\n")
    loaded = load_settings([p])
    check_secrets(loaded, skip=["mqtt"])
    dump = masked_dump(loaded.settings)
    assert dump["realtime"]["api_key"] == "<secret from environment variable SPEAKER_TEST_KEY>"
    assert "sk-very-secret" not in repr(dump) + repr(loaded.settings)


def test_later_files_override_and_errors_point_at_the_right_file(tmp_path: Path) -> None:
    main = write(tmp_path, "vad:\n  aggressiveness: 2\nwake:\n  refractory_s: 1\n", "main.yaml")
    extra = write(tmp_path, "vad:\n  aggressiveness: 3\n", "extra.yaml")
    settings = load_settings([main, extra]).settings
    assert settings.vad.aggressiveness == 3 and settings.wake.refractory_s == 1
    bad = write(tmp_path, "\n\nvad:\n  hangover_ms: 1\n", "bad.yaml")
    assert f"{bad}:4 vad.hangover_ms" in error_of(main, bad)


def test_cross_field_rule(tmp_path: Path) -> None:
    p = write(tmp_path, "conversation:\n  follow_up_s: 10\n  idle_close_s: 3\n")
    assert "idle_close_s must be at least follow_up_s" in error_of(p)


def test_missing_file(tmp_path: Path) -> None:
    assert "file not found" in error_of(tmp_path / "nope.yaml")
