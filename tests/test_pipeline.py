"""The whole daemon, end to end: real wake-word models and VAD on real audio, the real Realtime client
against the emulator on loopback, file audio in and out, a real Mosquitto for the tools."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from realtime_emulator import Emulator, Reply, Script, Turn
from speaker.app import assemble
from speaker.audio.factory import open_sink
from speaker.audio.format import MIC
from speaker.audio.ports import AudioSink
from speaker.audio.wavfile import read_wav, write_wav
from speaker.config import load_settings
from tests.fixtures.speech import fixture_info, read_pcm, tools_missing
from tests.helpers.broker import Broker

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-emulator-test"


def _config(tmp_path: Path, url: str, *, broker: Broker | None = None, fast: bool = True) -> Path:
    mqtt = f"mqtt:\n  host: 127.0.0.1\n  port: {broker.port}\n" if broker else "mqtt:\n  enabled: false\n"
    path = tmp_path / "speaker.yaml"
    path.write_text(
        f"audio:\n  input:\n    realtime: {str(not fast).lower()}\n"
        f"realtime:\n  url: {url}\n  api_key: {{env: SPEAKER_TEST_EMULATOR_KEY}}\n"
        "conversation:\n  follow_up_s: 1\n  idle_close_s: 1\n"
        f"{mqtt}tools:\n  packs: []\nstate_dir: {tmp_path}\n")
    return path


def _concat(tmp_path: Path, names: list[str], silence_s: float = 0.5) -> tuple[Path, float]:
    """A WAV of fixtures one after another; returns it and the duration of the last fixture's speech."""
    if (why := tools_missing()) is not None:
        pytest.skip(why)
    pcm = b""
    gap = b"\x00\x00" * int(16000 * silence_s)
    for name in names:
        pcm += read_pcm(fixture_info(name).path) + gap
    info = fixture_info(names[-1])
    speech = sum(end - start for start, end in info.speech)
    path = tmp_path / "input.wav"
    write_wav(path, pcm, 16000)
    return path, speech


@pytest.mark.slow
def test_readme_demo_command_runs_the_whole_pipeline(tmp_path: Path) -> None:
    """`speaker demo` (what script/demo runs): wake word -> emulator -> tool -> MQTT -> reply -> idle close."""
    out = tmp_path / "reply.wav"
    proc = subprocess.run([sys.executable, "-m", "speaker", "demo", "--output", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    assert "wake word 'hey_jarvis'" in text
    assert "MQTT  speaker -> zigbee2mqtt/Kitchen Ceiling/set  {\"state\":\"ON\"}" in text
    assert "reply: \"The kitchen light is on.\"" in text
    assert "closing the session (idle)" in text
    assert "0 protocol violation(s)" in text and "demo completed" in text
    assert out.stat().st_size > 24000 * 2  # more than a second of reply audio


@pytest.mark.slow
async def test_privacy_no_connection_and_no_audio_without_the_wake_word(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Minutes of ordinary speech, commands and near-misses: the endpoint is never contacted."""
    wav, _ = _concat(tmp_path, ["paragraph", "commands", "near_misses", "white_noise"])
    monkeypatch.setenv("SPEAKER_TEST_EMULATOR_KEY", KEY)
    async with Emulator(Script(), api_key=KEY) as emu:
        loaded = load_settings([_config(tmp_path, emu.url)])
        async with asyncio.timeout(120), \
                assemble(loaded, api_key=KEY, input_file=wav, output_file=tmp_path / "out.wav") as speaker:
            await speaker.runner.run(speaker.source)
        assert speaker.runner.frontend.time > 120  # minutes of audio were really listened to
        assert emu.connections == 0
        assert speaker.log.sessions == []


async def test_only_speech_after_the_wake_word_is_uploaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A minute of talk, then "hey jarvis" and a command: what reaches the service is the command with a
    short pre-roll, not the minute before nor the silence after."""
    wav, command_s = _concat(tmp_path, ["paragraph", "hey_jarvis", "speech_end"], silence_s=0.2)
    monkeypatch.setenv("SPEAKER_TEST_EMULATOR_KEY", KEY)
    script = Script(turns=[Turn(heard="turn on the kitchen light", reply=Reply("The kitchen light is on."))])
    async with Emulator(script, api_key=KEY, speed=20) as emu:
        loaded = load_settings([_config(tmp_path, emu.url)])
        async with asyncio.timeout(60), \
                assemble(loaded, api_key=KEY, input_file=wav, output_file=tmp_path / "out.wav") as speaker:
            await speaker.runner.run(speaker.source)
        assert emu.connections == 1
        assert emu.violations == []
        sent = emu.append_seconds[0]
        # the command, plus at most the wake word's tail, the pad before onset and a breath after the end
        print(f"speech {command_s:.2f} s, uploaded {sent:.2f} s")
        assert command_s <= sent <= command_s + 0.6, (command_s, sent)
        assert emu.events("input_audio_buffer.commit") and emu.events("response.create")
        assert [code for code in emu.closed_codes if code is not None] == [1000]  # a normal close when idle


class BargeInMicrophone:
    """The barge-in scenario as a live microphone (10 ms frames at real-time pace): "hey jarvis, turn on
    the kitchen light", silence until the reply is really being heard (the sink has played
    ``heard_ms`` of it), then "hey jarvis, turn on the kitchen light" again. Gating the second request
    on the reply, not on a fixed second of the file, keeps a slow machine from barging in before the
    reply has started playing."""

    format = MIC

    def __init__(self, first: bytes, second: bytes, sink: AudioSink, heard_ms: float = 500) -> None:
        self._first, self._second, self._sink, self._heard_ms = first, second, sink, heard_ms
        self.gated_at_ms: float | None = None
        """Where the reply had played to when the second request began."""

    async def __aenter__(self) -> BargeInMicrophone:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def frames(self) -> AsyncIterator[bytes]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        step = MIC.bytes_for_ms(10)
        due = loop.time()

        async def paced(frame: bytes) -> bytes:
            nonlocal due
            due += 0.01
            await asyncio.sleep(max(0.0, due - loop.time()))
            return frame

        for i in range(0, len(self._first), step):
            yield await paced(self._first[i:i + step])
        while self._sink.played_ms < self._heard_ms:  # a quiet room until the reply is being heard
            yield await paced(b"\x00" * step)
        self.gated_at_ms = self._sink.played_ms
        for i in range(0, len(self._second), step):
            yield await paced(self._second[i:i + step])


@pytest.mark.slow
async def test_barge_in_by_wake_word_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """"hey jarvis, turn on the kitchen light", a long reply, and "hey jarvis, turn on the kitchen
    light" again while it plays: playback stops, the reply is cancelled and truncated to what was heard,
    and the new request is answered — in real time, through the real front end."""
    from speaker.bench_conversation import LONG_REPLY, build_input

    wav = tmp_path / "barge.wav"
    build_input(wav)  # silence 1 s, request, silence 2.5 s, request, silence 9 s
    pcm = read_wav(wav, 16000)
    request = (len(pcm) // 2 / 16000 - 12.5) / 2  # seconds of one "hey jarvis" + command
    cut = int(16000 * (1.0 + request + 1.5)) * 2  # a breath after the first request
    monkeypatch.setenv("SPEAKER_TEST_EMULATOR_KEY", KEY)
    script = Script(turns=[Turn(reply=Reply(LONG_REPLY)), Turn(reply=Reply("The kitchen light is on."))])
    # speed=2: the 11.7 s reply streams for ~6 s, so it is still in progress when the user barges in,
    # and always ahead of playback (at speed 1 a busy machine's emulator fell behind real time, the
    # speaker had played everything that had arrived, and there was nothing to truncate)
    async with Emulator(script, api_key=KEY, speed=2.0) as emu:
        loaded = load_settings([_config(tmp_path, emu.url, fast=False)])
        async with open_sink(loaded.settings.audio.output, file=tmp_path / "out.wav") as sink:
            mic = BargeInMicrophone(pcm[:cut], pcm[cut:], sink)
            async with asyncio.timeout(120), assemble(loaded, api_key=KEY, source=mic, sink=sink) as speaker:
                await speaker.runner.run(speaker.source)
        assert mic.gated_at_ms is not None
        assert emu.violations == []
        assert emu.connections == 1  # the barge-in reuses the open session
        assert len(emu.events("input_audio_buffer.commit")) == 2
        assert len(emu.events("response.cancel")) == 1
        truncates = emu.events("conversation.item.truncate")
        assert len(truncates) == 1
        # cut where the listener was: after what had played when the second request began, within the reply
        assert mic.gated_at_ms - 100 < truncates[0]["audio_end_ms"] < 11_700, (mic.gated_at_ms, truncates)
        errors = [e["error"].get("code") for e in emu.events("error", sent=True)]
        assert errors == [], errors  # no refused truncate, no double response
        [session] = speaker.log.sessions
        assert session.turns == 2 and session.responses == 2  # the cancelled reply is billed too
