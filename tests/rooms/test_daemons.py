"""Three whole speakers (``assemble``: real wake word and VAD on file audio paced in real time) on one real
Mosquitto, each with its own Realtime emulator, fed the same recording at different gains and start
offsets 15 ms apart (sound over 5 m): one answer per wake word, from the loudest room.

The claim window is set to its maximum (1 s): every speaker claims, so each decides as soon as it holds
the claims of all its live neighbours and the window never closes first on a slow machine; the outcome
never depends on how fast this machine is, only on the claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from realtime_emulator import Emulator, Reply, Script, Turn
from speaker.app import Speaker, assemble
from speaker.audio.wavfile import write_wav
from speaker.config import load_settings
from tests.fixtures.speech import fixture_wav, read_pcm
from tests.helpers.broker import Broker
from tests.mqtt.recorder import Recorder

pytestmark = [pytest.mark.slow, pytest.mark.broker]
KEY = "sk-emulator-rooms-test"
RATE = 16000
BASE = "home"
BOUND_S = 60.0


def recording(path: Path, gain_db: float, lead_s: float) -> Path:
    """'hey jarvis' then a request, at ``gain_db``, after ``lead_s`` of silence."""
    speech = np.concatenate([np.frombuffer(read_pcm(fixture_wav("hey_jarvis")), "<i2"),
                             np.frombuffer(read_pcm(fixture_wav("speech_end")), "<i2")[RATE:]]).astype(np.float64)
    scaled = np.clip(speech * 10 ** (gain_db / 20), -32768, 32767)
    audio = np.concatenate([np.zeros(int(lead_s * RATE)), scaled, np.zeros(4 * RATE)]).astype("<i2")
    write_wav(path, audio.tobytes(), RATE)
    return path


@dataclass
class Room:
    site: str
    emu: Emulator
    speaker: Speaker


def script() -> Script:
    return Script(turns=[Turn(heard="turn on the kitchen light", reply=Reply("The light is on."))])


@contextlib.asynccontextmanager
async def rooms(tmp_path: Path, broker: Broker, plan: list[tuple[str, float, float]], *,
                refuse: str | None = None) -> AsyncIterator[list[Room]]:
    """One speaker per (site, gain dB, start offset s); ``refuse``: that site's emulator refuses its key."""
    async with contextlib.AsyncExitStack() as stack:
        out = []
        for site, gain, offset in plan:
            emu = await stack.enter_async_context(Emulator(script(), api_key="sk-other" if site == refuse else KEY))
            home = tmp_path / site
            home.mkdir()
            config = home / "speaker.yaml"
            config.write_text(f"""\
realtime:
  url: {emu.url}
conversation:
  follow_up_s: 0.5
  idle_close_s: 0.5
mqtt:
  host: {broker.host}
  port: {broker.port}
  base_topic: {BASE}
  site_id: {site}
  reconnect_max_s: 1
rooms:
  window_ms: 1000
tools:
  packs: []
state_dir: {home / "state"}
""")
            audio = recording(home / "in.wav", gain, 1.0 + offset)
            speaker = await stack.enter_async_context(
                assemble(load_settings([config]), api_key=KEY, input_file=audio, output_file=home / "out.wav"))
            out.append(Room(site, emu, speaker))
        yield out


async def know_each_other(rooms_: list[Room]) -> None:
    """Every speaker's roster holds the others (their retained availability and presence)."""
    for room in rooms_:
        assert room.speaker.rooms is not None
        await room.speaker.rooms.link.wait_until(lambda a: len(a.live_peers()) == len(rooms_) - 1, BOUND_S)


async def run_all(rooms_: list[Room]) -> None:
    """Start every runner at once; each returns when its file has ended and it is idle again."""
    async with asyncio.timeout(BOUND_S), asyncio.TaskGroup() as tg:
        for room in rooms_:
            tg.create_task(room.speaker.runner.run(room.speaker.source), name=f"test:runner-{room.site}")


def states(recorder: Recorder, site: str) -> list[str]:
    return [m.payload.decode() for m in recorder.on(f"{BASE}/{site}/state")]


def answered(recorder: Recorder, site: str) -> list[dict[str, object]]:
    return [json.loads(m.payload) for m in recorder.on(f"{BASE}/{site}/event/answered")]


def assert_quiet(room: Room, recorder: Recorder) -> None:
    assert room.emu.connections == 0, f"{room.site} opened a session"
    assert "listening" not in states(recorder, room.site), f"{room.site} published a listening state"
    assert room.speaker.sink.written_ms == 0, f"{room.site} played something"


@pytest.mark.parametrize("plan", [
    # (site, gain dB, start offset): the loudest starts last and has the last site name
    [("alpha", -12.0, 0.0), ("bravo", -6.0, 0.015), ("charlie", 0.0, 0.030)],
    # the loudest starts first, in the middle of the names; the nearest in time is the quietest
    [("den", -6.0, 0.015), ("attic", 0.0, 0.0), ("bath", -12.0, 0.030)],
])
async def test_three_speakers_one_wake_one_answer_from_the_loudest(
        broker: Broker, tmp_path: Path, plan: list[tuple[str, float, float]]) -> None:
    recorder = Recorder(broker.host, broker.port)
    try:
        async with rooms(tmp_path, broker, plan) as rs:
            await know_each_other(rs)
            await run_all(rs)
            loudest = max(plan, key=lambda p: p[1])[0]
            winner = next(r for r in rs if r.site == loudest)
            assert winner.emu.connections == 1, "the loudest speaker answered once"
            assert "listening" in states(recorder, loudest) and winner.speaker.sink.written_ms > 0
            for room in rs:
                if room is not winner:
                    assert_quiet(room, recorder)
            for site, _, _ in plan:  # every speaker tells Home Assistant who answered its wake
                said = answered(recorder, site)
                assert [a["winner"] for a in said] == [loudest], (site, said)
                assert said[0]["answering"] is (site == loudest)
    finally:
        recorder.close()


async def test_with_the_broker_down_each_speaker_answers_alone(broker: Broker, tmp_path: Path) -> None:
    plan = [("alpha", -12.0, 0.0), ("bravo", -6.0, 0.015), ("charlie", 0.0, 0.030)]
    async with rooms(tmp_path, broker, plan) as rs:
        await know_each_other(rs)
        broker.stop()
        for room in rs:
            assert room.speaker.rooms is not None
            await room.speaker.rooms.link.wait_until(lambda a: not a.connected, BOUND_S)
        await run_all(rs)
        assert [r.emu.connections for r in rs] == [1, 1, 1]
        assert all(r.speaker.sink.written_ms > 0 for r in rs)


async def test_when_the_winner_cannot_open_its_session_the_runner_up_answers(
        broker: Broker, tmp_path: Path) -> None:
    plan = [("alpha", -12.0, 0.0), ("bravo", -6.0, 0.015), ("charlie", 0.0, 0.030)]
    recorder = Recorder(broker.host, broker.port)
    try:
        async with rooms(tmp_path, broker, plan, refuse="charlie") as rs:
            await know_each_other(rs)
            await run_all(rs)
            alpha, bravo, charlie = rs
            assert charlie.emu.refused and charlie.emu.connections == 0, "the winner was refused"
            assert recorder.on(f"{BASE}/charlie/rooms/release"), "the winner released the floor"
            assert bravo.emu.connections == 1 and bravo.speaker.sink.written_ms > 0, "the runner-up took over"
            takeover = [a for a in answered(recorder, "bravo") if a["takeover"]]
            assert takeover and takeover[0]["winner"] == "bravo"
            assert_quiet(alpha, recorder)
    finally:
        recorder.close()
