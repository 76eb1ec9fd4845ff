"""The whole speaker in a real Home Assistant: a private Mosquitto, ``hass`` from the HA venv
(``script/ha-venv``; ``SPEAKER_HA_PYTHON`` names another interpreter) with the MQTT integration added
through its config flow, and the whole speaker (emulator for Realtime, a WAV file for the microphone).
HA must show the device in its area with notify, events and a timers sensor, and ``notify.send_message``
must make the speaker say the text. Skips, saying why, where Home Assistant is not installed."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from realtime_emulator import Emulator, Reply, Script, Turn
from tests.ha.real_ha import HomeAssistant
from tests.ha.support import ROOT, message_on
from tests.ha.test_ha_schemas import ha_python
from tests.helpers.broker import Broker
from tests.helpers.whole_speaker import KEY, input_wav, silence, whole_speaker
from tests.mqtt.recorder import Recorder

pytestmark = pytest.mark.slow
T = TypeVar("T")
EVENTS = {"wake", "conversation", "timer", "error"}  # unique-id suffixes of the event entities


def frontend_installed(python: str) -> str:
    """HA's bootstrap goes into recovery mode without its frontend package."""
    done = subprocess.run([python, "-c", "import hass_frontend, paho.mqtt"], capture_output=True, timeout=120,
                          check=False)
    if done.returncode != 0:
        pytest.skip("the HA venv lacks home-assistant-frontend or paho-mqtt: rerun script/ha-venv")
    return python


@pytest.fixture
async def home_assistant(tmp_path: Path, broker: Broker) -> AsyncIterator[HomeAssistant]:
    ha = HomeAssistant(frontend_installed(ha_python()), tmp_path / "ha")
    ha.start()
    try:
        print(f"\nHA running after {await ha.wait_running(within=300):.1f} s")
        await ha.add_mqtt(broker.host, broker.port)
        yield ha
    finally:
        ha.stop()


async def until(probe: Callable[[], Awaitable[T | None]], within: float, what: str) -> T:
    """The first non-empty answer of ``probe``, polled until ``within`` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        if found := await probe():
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} after {within} s")
        await asyncio.sleep(0.5)


async def test_home_assistant_shows_the_speaker_in_its_area_and_its_notify_makes_it_speak(
        broker: Broker, recorder: Recorder, home_assistant: HomeAssistant, tmp_path: Path) -> None:
    ha = home_assistant
    script = Script(turns=[Turn(reply=Reply("Dinner is ready."))])
    audio = input_wav(tmp_path / "quiet.wav", silence(60))
    async with Emulator(script, api_key=KEY) as emu, whole_speaker(tmp_path, broker, emu, audio) as run:
        started = time.monotonic()

        async def speaker_device() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
            devices, entities = await ha.ws({"type": "config/device_registry/list"},
                                            {"type": "config/entity_registry/list"})
            device = next((d for d in devices if ["mqtt", "speaker_kitchen"] in d["identifiers"]), None)
            if device is None:
                return None
            mine = [e for e in entities if e["device_id"] == device["id"]]
            suffixes = {e["unique_id"].removeprefix("speaker_kitchen_") for e in mine}
            return (device, mine) if EVENTS | {"announce", "timers"} <= suffixes else None

        device, entities = await until(speaker_device, 60, "no speaker device with its entities in HA")
        print(f"device and entities in HA {time.monotonic() - started:.1f} s after the speaker started")
        (areas,) = await ha.ws({"type": "config/area_registry/list"})
        area = next(a["name"] for a in areas if a["area_id"] == device["area_id"])
        by_suffix = {e["unique_id"].removeprefix("speaker_kitchen_"): e["entity_id"] for e in entities}
        print(f"device {device['name']!r} ({device['manufacturer']} / {device['model']}) in area {area!r}")
        for suffix, entity_id in sorted(by_suffix.items()):
            print(f"  {entity_id}  ({suffix})")
        assert area == "Kitchen"
        assert by_suffix["announce"].startswith("notify.")
        assert all(by_suffix[s].startswith("event.") for s in EVENTS)
        assert by_suffix["timers"].startswith("sensor.")

        async def timers_state() -> str | None:
            state: dict[str, Any] = await ha.rest("GET", f"/api/states/{by_suffix['timers']}")
            return str(state["state"]) if state["state"] not in ("unknown", "unavailable") else None

        assert await until(timers_state, 30, "the timers sensor has no state") == "0"

        said = time.monotonic()
        await ha.rest("POST", "/api/services/notify/send_message",
                      {"entity_id": by_suffix["announce"], "message": "Dinner is ready"})
        say = await message_on(recorder, f"{ROOT}/cmd/say", within=30)
        assert say.text == "Dinner is ready"  # HA's notify publishes the message as it is
        create = await emu.wait_for("response.create", timeout=30)
        assert "Dinner is ready" in create["response"]["instructions"]
        await message_on(recorder, f"{ROOT}/event/session_closed", within=60)
        print(f"notify.send_message -> cmd/say -> spoken, session closed: {time.monotonic() - said:.1f} s")
        assert run.speaker.sink.written_ms > 1000  # the chime and the spoken text reached the speaker

    problems = [line for line in ha.log_lines("mqtt", "speaker_kitchen")
                if " ERROR " in line or " WARNING " in line]
    print("HA log on MQTT:", *problems or ["(nothing)"], sep="\n  ")
    assert not [p for p in problems if "speaker_kitchen" in p or "discovery" in p.lower()], problems
