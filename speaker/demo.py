"""`speaker demo`: the whole pipeline offline, with a readable timeline.

Bundled audio ("hey jarvis … turn on the kitchen light … what time is it") is played into the real front
end (wake word, VAD), the conversation runs against the Realtime EMULATOR on loopback (or the real API
with --live), the light tool publishes to a private Mosquitto broker, and the reply audio is written to a
WAV file. Nothing needs a key or the network.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.conversation import Step
from speaker.errors import EMULATOR_MISSING

EMULATOR_KEY_ENV = "SPEAKER_EMULATOR_KEY"
EMULATOR_KEY = "sk-emulator-demo"
LIGHT_TOOL = "z2m_light_set"  # from tools/zigbee2mqtt.yaml
LIGHT_ARGS = {"device": "kitchen_ceiling", "state": "ON"}


def _asset(name: str) -> Path:
    return Path(str(resources.files("speaker") / "assets" / name))


def _repo_tools() -> Path | None:
    pack = Path(__file__).resolve().parents[1] / "tools" / "zigbee2mqtt.yaml"
    return pack if pack.exists() else None


def _config_text(*, url: str, live: bool, mqtt_port: int | None, pack: Path | None, state_dir: Path) -> str:
    key = "{env: OPENAI_API_KEY}" if live else f"{{env: {EMULATOR_KEY_ENV}}}"
    mqtt = (f"mqtt:\n  host: 127.0.0.1\n  port: {mqtt_port}\n  site_id: demo\n" if mqtt_port
            else "mqtt:\n  enabled: false\n")
    packs = f"tools:\n  packs: [{pack}]\n" if pack else "tools:\n  packs: []\n"
    return f"""\
realtime:
  url: {url}
  api_key: {key}
conversation:
  follow_up_s: 4
  idle_close_s: 4
{mqtt}{packs}state_dir: {state_dir}
"""


@contextlib.contextmanager
def _private_broker() -> Iterator[int | None]:
    """A throwaway Mosquitto on a free loopback port, or None when the binary is missing."""
    if shutil.which("mosquitto") is None:
        yield None
        return
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(["mosquitto", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    yield None
                    return
                time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


class Timeline:
    """Prints what happens, with times relative to the start of the input audio."""

    def __init__(self, out: Any = sys.stdout) -> None:
        self.t0 = time.monotonic()
        self.out = out
        self.first_append: float | None = None
        self.wake_at: float | None = None
        self.reply_audio_ms = 0.0
        self.mqtt_messages: list[tuple[str, str]] = []

    def say(self, text: str, at: float | None = None) -> None:
        t = (at if at is not None else time.monotonic()) - self.t0
        print(f"  {t:6.2f} s  {text}", file=self.out, flush=True)

    def observe(self, step: Step, now: float) -> None:
        match step:
            case O.WakeHeard(model=model, score=score):
                self.wake_at = now
                self.say(f"wake word {model!r} (score {score:.2f}) -> opening a session", now)
            case A.AppendAudio() if self.first_append is None and self.wake_at is not None:
                self.first_append = now
                self.say(f"session ready; first audio sent {1000 * (now - self.wake_at):.0f} ms after the wake word",
                         now)
            case O.StateChanged(state=state):
                self.say(f"state: {state.value}", now)
            case A.RunTool(name=name, arguments=arguments):
                self.say(f"tool call {name}({arguments})", now)
            case A.Play(pcm=pcm):
                self.reply_audio_ms += len(pcm) / 48
            case A.CloseSession(reason=reason):
                self.say(f"closing the session ({reason})", now)
            case O.TurnCommitted():
                self.say("end of speech: audio committed, reply requested", now)
            case O.ReplyText(text=text):
                self.say(f"reply: \"{text}\"", now)
            case O.UserTranscript(text=text):
                self.say(f"heard: \"{text}\"", now)
            case _:
                pass

    def dry_run(self, topic: str, payload: str) -> None:
        self.mqtt_messages.append((topic, payload))
        self.say(f"MQTT  dry run, not sent: {topic}  {payload}")

    def mqtt(self, topic: str, payload: str) -> None:
        self.mqtt_messages.append((topic, payload))
        who = "speaker ->" if topic.endswith("/set") else "device  ->"
        self.say(f"MQTT  {who} {topic}  {payload}")


@contextlib.asynccontextmanager
async def _watch_broker(port: int | None, timeline: Timeline) -> AsyncIterator[None]:
    """Show what arrives on the device topics, and play a (simulated) Zigbee2MQTT bridge: a command on
    zigbee2mqtt/<device>/set is answered with the device's new state on zigbee2mqtt/<device>, which is
    how the light tool confirms that the light really switched."""
    if port is None:
        yield
        return
    import json

    import aiomqtt

    async def watch() -> None:
        async with aiomqtt.Client("127.0.0.1", port, identifier="demo-zigbee2mqtt-sim") as client:
            await client.subscribe("zigbee2mqtt/#")
            async for msg in client.messages:
                payload = msg.payload.decode() if isinstance(msg.payload, bytes) else str(msg.payload)
                topic = str(msg.topic)
                timeline.mqtt(topic, payload)
                if topic.endswith("/set"):
                    with contextlib.suppress(ValueError, TypeError):
                        state = {k: v for k, v in json.loads(payload).items() if k in ("state", "brightness")}
                        await client.publish(topic.removesuffix("/set"), json.dumps(state), retain=True)

    task = asyncio.create_task(watch(), name="demo:broker-watch")
    await asyncio.sleep(0.2)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def _demo_sink(settings: Any, output: Path, *, play: str) -> Any:
    """The reply goes to the WAV file; with a sound card (or --play yes) it is played there too."""
    from speaker.audio.factory import open_sink

    recording = open_sink(settings.audio.output, file=output)
    if play == "no":
        return recording
    if play == "auto":
        try:
            from speaker.audio.devices import list_devices

            if not any(d.max_output_channels > 0 for d in list_devices(probe=False)):
                return recording
        except Exception:  # no PortAudio, no devices: the recording alone
            return recording
    from speaker.audio.tee import TeeSink

    print("  playing the reply on the default output device too")
    return TeeSink(open_sink(settings.audio.output), recording)


def _wav_seconds(path: Path) -> float | None:
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (OSError, wave.Error):
        return None


def run_demo(args: argparse.Namespace) -> int:
    try:
        import realtime_emulator  # noqa: F401  (its own distribution: say how to get it)
    except ModuleNotFoundError:
        print(f"speaker demo: {EMULATOR_MISSING}", file=sys.stderr)
        return 2
    return asyncio.run(_demo(args))


async def _demo(args: argparse.Namespace) -> int:
    from realtime_emulator import Emulator, FunctionCallSpec, Reply, Script, Turn
    from speaker.config import load_settings

    live = bool(getattr(args, "live", False))
    input_wav: Path = args.input or _asset("demo_input.wav")
    output: Path = args.output
    if live and not os.environ.get("OPENAI_API_KEY"):
        print("speaker demo --live needs OPENAI_API_KEY in the environment", file=sys.stderr)
        return 2
    script = Script(turns=[
        Turn(heard="turn on the kitchen light", call=FunctionCallSpec(LIGHT_TOOL, LIGHT_ARGS),
             then=Reply("The kitchen light is on.")),
        Turn(heard="what time is it", call=FunctionCallSpec("get_time", {}), then=Reply("It is ten past three.")),
    ])
    pack = _repo_tools()
    print("room speaker demo")
    print(f"  input   {input_wav}  (real wake word and VAD)")
    with _private_broker() as port, tempfile.TemporaryDirectory(prefix="speaker-demo-") as tmp:
        broker = f"private Mosquitto on 127.0.0.1:{port}" if port else \
            "mosquitto is not installed: the light tool runs as a DRY RUN (nothing is published)"
        print(f"  mqtt    {broker}")
        async with contextlib.AsyncExitStack() as stack:
            if live:
                url = "wss://api.openai.com/v1/realtime"
                print("  service the REAL OpenAI Realtime API (--live): this costs money")
            else:
                os.environ[EMULATOR_KEY_ENV] = EMULATOR_KEY
                emulator = await stack.enter_async_context(Emulator(script=script, api_key=EMULATOR_KEY))
                url = emulator.url.split("?")[0]
                print(f"  service Realtime EMULATOR on {url} (not OpenAI; every event checked against the "
                      "openai types)")
            config = Path(tmp) / "demo.yaml"
            config.write_text(_config_text(url=url, live=live, mqtt_port=port, pack=pack, state_dir=Path(tmp)))
            loaded = load_settings([config])
            print(f"  output  {output}")
            print()
            timeline = Timeline()
            await stack.enter_async_context(_watch_broker(port, timeline))
            from speaker.app import assemble

            key = os.environ["OPENAI_API_KEY"] if live else EMULATOR_KEY
            sink = await stack.enter_async_context(_demo_sink(loaded.settings, output, play=args.play))
            dry_run = None
            if port is None:
                from speaker.mqtt.dryrun import DryRunMqtt

                dry_run = DryRunMqtt(loaded.settings.mqtt, on_publish=timeline.dry_run)
            async with assemble(loaded, api_key=key, input_file=input_wav, sink=sink,
                                observers=[timeline], tools_mqtt=dry_run) as speaker:
                timeline.t0 = time.monotonic()
                await speaker.runner.run(speaker.source)
                summaries = [ended.summary_line() for ended in speaker.log.sessions]
            violations = [] if live else list(emulator.violations)
    print()
    for line in summaries:
        print(f"  {line}")
    seconds = _wav_seconds(output)
    if seconds is not None:
        print(f"  reply audio: {output} ({seconds:.1f} s)")
    if not live:
        print(f"  emulator: {len(violations)} protocol violation(s)")
        for v in violations:
            print(f"    {v}")
    ok = bool(summaries) and not violations and any(LIGHT_ARGS["state"] in p for _, p in timeline.mqtt_messages)
    print("  demo " + ("completed" if ok else "did NOT complete as expected"))
    return 0 if ok else 1
