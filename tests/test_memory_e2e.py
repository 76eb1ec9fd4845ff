"""Memory across an idle-closed session through the whole speaker: real wake word and VAD on file audio
(paced like a device), the real Realtime client, the EMULATOR validating every client event."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from realtime_emulator import Emulator, Reply, Script, Turn
from speaker.app import assemble
from speaker.audio.wavfile import write_wav
from speaker.config import load_settings
from tests.fixtures.speech import fixture_info, read_pcm, tools_missing

pytestmark = pytest.mark.slow
KEY = "sk-emulator-memory-test"


def _talk(path: Path, gap_s: float) -> Path:
    """"hey jarvis, turn on the kitchen light", ``gap_s`` of quiet, then "hey jarvis, ..." again."""
    if (why := tools_missing()) is not None:
        pytest.skip(why)
    wake, command = read_pcm(fixture_info("hey_jarvis").path), read_pcm(fixture_info("speech_end").path)
    rng = np.random.default_rng(3)

    def quiet(seconds: float) -> bytes:  # a quiet room: white noise at -60 dBFS
        return (rng.standard_normal(int(seconds * 16000)) * 32.768).astype("<i2").tobytes()

    first = wake + command + quiet(gap_s)
    first += b"\x00\x00" * (-(len(first) // 2) % 1280)  # the same 80 ms alignment: the same wake score
    write_wav(path, first + wake + command + quiet(4), 16000)
    return path


async def test_a_wake_within_memory_s_seeds_the_new_session_with_the_earlier_exchange(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEAKER_TEST_EMULATOR_KEY", KEY)
    first = Reply("The kitchen light is on.")
    script = Script(turns=[Turn(heard="turn on the kitchen light", reply=first),
                           Turn(heard="and the bedroom too", reply=Reply("The bedroom light is on too."))])
    wav = _talk(tmp_path / "talk.wav", 10.0)
    async with Emulator(script, api_key=KEY, speed=4) as emu:
        config = tmp_path / "speaker.yaml"
        config.write_text(
            "audio:\n  input:\n    realtime: true\n"
            f"realtime:\n  url: {emu.url}\n  api_key: {{env: SPEAKER_TEST_EMULATOR_KEY}}\n"
            "  transcription: {language: en}\n"
            "conversation:\n  follow_up_s: 1\n  idle_close_s: 1\n  memory_s: 300\n"
            f"mqtt:\n  enabled: false\ntools:\n  packs: []\nstate_dir: {tmp_path}\n")
        loaded = load_settings([config])
        async with asyncio.timeout(120), \
                assemble(loaded, api_key=KEY, input_file=wav, output_file=tmp_path / "out.wav") as speaker:
            await speaker.runner.run(speaker.source)
        assert emu.connections == 2, "the first session should have closed when idle, the second wake reopen"
        assert emu.violations == []  # every client event, the summary item included, passed validation
        assert emu.events("conversation.item.create", connection=0) == []
        seeds = emu.events("conversation.item.create", connection=1)
        assert len(seeds) == 1
        item = seeds[0]["item"]
        assert item["role"] == "system"
        text = item["content"][0]["text"]
        assert first.text in text and "User: turn on the kitchen light" in text
        # the summary reached the conversation before the model was asked to answer
        received = [e.event["type"] for e in emu.log
                    if e.direction == "received" and e.connection == 1]
        assert received.index("conversation.item.create") < received.index("response.create")
        added = [e["item"] for e in emu.events("conversation.item.added", sent=True, connection=1)]
        assert any(i.get("role") == "system" for i in added), "the emulator did not take the item"
