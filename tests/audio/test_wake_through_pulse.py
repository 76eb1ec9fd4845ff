"""End to end on the capture path the daemon uses: "hey jarvis" spoken into a (virtual) microphone,
captured by DeviceSource through PortAudio, fed to the front end with the real openWakeWord engine."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from speaker.audio.device_source import DeviceSource
from speaker.config.schema import AudioInputSettings, VadSettings, WakeSettings
from speaker.listen.events import WakeDetected
from speaker.listen.frontend import FrontEnd
from speaker.vad.segmenter import SpeechSegmenter
from speaker.wake.factory import build_wake_engine
from tests.fixtures.speech import fixture_info, tools_missing
from tests.helpers.pulse import Pulse

pytestmark = pytest.mark.audio
log = logging.getLogger(__name__)


async def test_wake_word_said_into_the_microphone_is_detected(pulse: Pulse) -> None:
    if (why := tools_missing()) is not None:
        pytest.skip(why)
    clip = fixture_info("hey_jarvis")
    speech_start, speech_end = clip.speech[0]
    engine = build_wake_engine(WakeSettings(), Path.cwd())
    frontend = FrontEnd(engine, SpeechSegmenter(VadSettings()), preroll_ms=1000)
    detections: list[tuple[float, WakeDetected]] = []
    try:
        async with asyncio.timeout(clip.duration + 10), DeviceSource(AudioInputSettings()) as source:
            frames = source.frames()
            end = time.monotonic() + 0.3
            while time.monotonic() < end:  # room tone before anyone speaks: nothing may fire
                for event in frontend.process(await anext(frames)):
                    assert not isinstance(event, WakeDetected), event
            t_play = time.monotonic()
            player = pulse.play_into_mic(clip.path, wait=False)
            while time.monotonic() < t_play + speech_end + 1.5 and not detections:
                for event in frontend.process(await anext(frames)):
                    if isinstance(event, WakeDetected):
                        detections.append((time.monotonic() - t_play, event))
            player.terminate()
            player.wait(timeout=5)
    finally:
        engine.close()
    assert detections, "hey_jarvis was not detected through the microphone path"
    after_play, first = detections[0]
    assert first.model == "hey_jarvis"
    assert first.score >= 0.5
    log.info("wake word detected %.0f ms after the end of the speech", 1000 * (after_play - speech_end))
    # fired by the speech itself: after it began, at most a second after it ended
    assert speech_start < after_play < speech_end + 1.0
