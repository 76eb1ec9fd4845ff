"""The whole speaker with a tiny daily budget: real wake word and VAD on file audio paced in real time, the
Realtime EMULATOR, a real Mosquitto broker. The first conversation spends the day's budget; it finishes
its reply and says goodbye locally; the second wake word opens no session and is answered locally."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from realtime_emulator import Emulator, Reply, Script, Turn
from tests.ha.support import ROOT, message_on, payload
from tests.ha.test_e2e import states
from tests.helpers.broker import Broker
from tests.helpers.whole_speaker import KEY, clip, input_wav, silence, whole_speaker
from tests.mqtt.recorder import Recorder

pytestmark = pytest.mark.slow


async def test_a_tiny_daily_budget_answers_the_second_wake_word_locally(
        broker: Broker, recorder: Recorder, tmp_path: Path) -> None:
    script = Script(turns=[Turn(heard="turn on the light", reply=Reply("The light is on."))])
    audio = input_wav(tmp_path / "two_wakes.wav", silence(1.5), clip("hey_jarvis"), clip("speech_end", 1.0),
                      silence(11), clip("hey_jarvis"), silence(6))
    async with Emulator(script, api_key=KEY) as emu:
        async with whole_speaker(tmp_path, broker, emu, audio, language=None,
                                 sections="cost: {daily_usd: 0.000001}\n") as run:
            await asyncio.wait_for(run.task, 120)  # until the file ends
            written_ms = run.speaker.sink.written_ms
        assert emu.connections == 1, "the second wake word opened a Realtime session over budget"
        assert emu.violations == []
        wrap = payload(await message_on(recorder, f"{ROOT}/event/budget_wrap_up"))
        assert wrap["scope"] == "day"
        refused = payload(await message_on(recorder, f"{ROOT}/event/budget_refused"))
        assert refused["scope"] == "day" and refused["what"] == "conversation" and refused["spent_usd"] > 0
        assert "error" not in states(recorder)
        budget = payload(recorder.on(f"{ROOT}/budget")[-1])
        assert budget["exhausted"] is True and budget["day_left_usd"] == 0
        # the reply, the goodbye (3.2 s) and the refusal (3.0 s) all reached the speaker
        assert written_ms > 6200 + 500
