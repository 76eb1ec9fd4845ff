"""The whole daemon in the simulated room: ``speaker.app.assemble`` with a :class:`RoomLoopback` as its
microphone and speaker and the Realtime emulator (``realtime_emulator``, a dev dependency) as the
service. Virtual time: the loopback holds while the daemon waits for the service. Used by the tests
(``tests/helpers/room.py``) and by ``speaker bench --aec``."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from speaker.aec.room import RoomLoopback, RoomSpec
from speaker.audio.format import REALTIME


@dataclass
class RoomRun:
    """What happened when the daemon ran in the simulated room."""

    steps: list[tuple[float, object]]
    """Every step the core returned, with the capture time (s) at which it happened."""
    emulator: Any
    loop: RoomLoopback
    uploaded_after: Callable[[str], float]

    def outputs(self, kind: type) -> list[tuple[float, Any]]:
        return [(t, s) for t, s in self.steps if isinstance(s, kind)]


async def run_daemon_in_room(tmp_path: Path, *, request: np.ndarray, reply: np.ndarray, config: str = "",
                             spec: RoomSpec | None = None, say: Sequence[tuple[np.ndarray, float]] = (),
                             duration_s: float = 22.0, report_lag_ms: float = 0.0, replies: int = 1,
                             barge_in: str = "auto") -> RoomRun:
    """The user says ``request`` (float, 16 kHz, from the start); the emulator answers with ``reply``
    (int16, 24 kHz) ``replies`` times, then a short answer; each ``say`` item (near-end samples, played
    position in ms) is spoken into the room once the sink has played that much. ``config`` is extra YAML."""
    from realtime_emulator import Emulator, Reply, Script, Turn
    from speaker.app import assemble
    from speaker.audio.wavfile import write_wav
    from speaker.config import load_settings
    from speaker.core.state import Phase

    long_wav = tmp_path / "long_reply.wav"
    write_wav(long_wav, reply.astype("<i2").tobytes(), REALTIME.rate)
    turns = [Turn(heard="tell me a story", reply=Reply("A long story.", audio=long_wav)) for _ in range(replies)]
    turns.append(Turn(heard="stop", reply=Reply("The kitchen light is on.")))
    key = "sk-emulator-room"
    os.environ["SPEAKER_ROOM_EMULATOR_KEY"] = key
    steps: list[tuple[float, object]] = []
    async with Emulator(Script(turns=turns), api_key=key, speed=40) as emu:
        path = tmp_path / "speaker.yaml"
        path.write_text(
            f"realtime:\n  url: {emu.url}\n  api_key: {{env: SPEAKER_ROOM_EMULATOR_KEY}}\n"
            f"conversation:\n  follow_up_s: 1\n  idle_close_s: 1\n  barge_in: {barge_in}\n"
            f"mqtt:\n  enabled: false\ntools:\n  packs: []\nstate_dir: {tmp_path}\n{config}")
        loaded = load_settings([path])
        state: dict[str, Any] = {}

        def open_responses() -> bool:
            return len(emu.events("response.created", sent=True)) > len(emu.events("response.done", sent=True))

        def hold() -> bool:
            runner = state.get("runner")
            if runner is None:
                return True
            phase = runner.core.phase
            if phase in (Phase.CONNECTING, Phase.THINKING):
                return True  # the service is working: no time passes in the room
            return bool(phase is Phase.SPEAKING and loop.sink.queued_ms < 10 and open_responses())

        loop = RoomLoopback(spec, duration_s=duration_s, near=request, hold=hold, report_lag_ms=report_lag_ms)
        for samples, played_ms in say:
            loop.say(samples, after_played_ms=played_ms)

        class Steps:
            def observe(self, step: object, now: float) -> None:
                steps.append((loop.captured_s, step))

        async with asyncio.timeout(300), assemble(loaded, api_key=key, source=loop.source, sink=loop.sink,
                                                  acoustic=True, observers=[Steps()]) as speaker:
            state["runner"] = speaker.runner
            await speaker.runner.run(speaker.source)

    def uploaded_after(event_type: str) -> float:
        """Seconds of audio appended after the first ``event_type`` the emulator received."""
        seen, total = False, 0.0
        for entry in emu.log:
            kind = entry.event.get("type")
            if entry.direction != "received":
                continue
            if kind == event_type:
                seen = True
            elif seen and kind == "input_audio_buffer.append":
                total += len(base64.b64decode(entry.event["audio"])) / (2 * REALTIME.rate)
        return total

    return RoomRun(steps, emu, loop, uploaded_after)
