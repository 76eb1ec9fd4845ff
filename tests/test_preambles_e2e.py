"""A gpt-realtime-2 style response with two assistant message items (a preamble, then the answer) through
the whole speaker: the EMULATOR (``Turn.preamble``), real wake word and VAD on file audio, Mosquitto."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime_emulator import Emulator, Reply, Script, Turn
from realtime_emulator.voice import speech_for
from tests.ha.support import ROOT, message_on, payload
from tests.helpers.broker import Broker
from tests.helpers.whole_speaker import KEY, clip, input_wav, silence, whole_speaker
from tests.mqtt.fixtures import recorder
from tests.mqtt.recorder import Recorder

__all__ = ["recorder"]
pytestmark = pytest.mark.slow


async def test_both_items_of_one_response_are_heard_in_order(broker: Broker, recorder: Recorder,
                                                             tmp_path: Path) -> None:
    pre, main = Reply("Let me check that for you."), Reply("The kitchen window is closed and locked.")
    script = Script(turns=[Turn(heard="is the kitchen window closed", preamble=pre, reply=main)])
    talk = input_wav(tmp_path / "talk.wav", clip("hey_jarvis"), clip("speech_end", 1.0), silence(12))
    async with Emulator(script, api_key=KEY) as emu, whole_speaker(tmp_path, broker, emu, talk) as run:
        await message_on(recorder, f"{ROOT}/event/session_closed", within=25)
        played_ms = run.speaker.sink.written_ms
    replies = [payload(m)["text"] for m in recorder.on(f"{ROOT}/event/reply")]
    assert replies == [pre.text, main.text]
    items_ms = sum(len(speech_for(r.text)) / 48 for r in (pre, main))
    assert played_ms >= items_ms, f"only {played_ms:.0f} ms played of {items_ms:.0f} ms of reply"
    assert emu.events("conversation.item.truncate") == [], "a fully heard item was truncated"
    assert emu.violations == []
