"""The spoken-confirmation round trip, printed by ``speaker bench --conversation`` (figures, never asserted).

The real daemon parts (front end with the wake word and the VAD on file audio, core, runner, Realtime
client, a file sink paced like a device) against the EMULATOR: "hey jarvis, unlock the front door" (the
bundled demo's wake word and command; the transcript is scripted), the model calls a ``confirm: true``
lock tool, the speaker asks "Unlock the front door?", the user answers (the demo's command audio again;
its scripted transcript is "yes") and the tool runs. The round trip is split where it is spent: the
speaker's own decisions (call -> question asked, the yes committed -> tool running), the question's audio
(played out in real time, as on a device), the user's pause before answering (fixed by the recording) and
the VAD's hangover (audio time: ``vad.hangover_ms`` after the last word before the answer is committed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from speaker.audio.wavfile import read_wav, write_wav
from speaker.bench_conversation import KEY, KEY_ENV, TimingSink, _cut, _segments
from speaker.core import actions as A
from speaker.core.conversation import Step
from speaker.listen.events import SpeechEnded, SpeechStarted
from speaker.runner import FrontEndLike

QUESTION = "Unlock the front door?"
PAUSE_S = 4.5
"""Quiet in the recording between the request and the answer (the question plays meanwhile)."""
PACK = """\
inventory:
  hall:
    - id: front_door
      name: Front door lock
      kind: lock
      mqtt: {command_topic: home/hall/front_door/set}
tools:
  - name: lock_set
    description: Lock or unlock a door.
    parameters:
      device: {type: device, kinds: [lock], required: true}
      command: {type: string, enum: ["LOCK", "UNLOCK"], required: true}
    confirm: true
    question: Unlock the front door?
    action: {topic: "{device.command_topic}", payload: "{command}"}
"""


class _Probe:
    """Runner observer and VAD spy: monotonic times of the steps and speech events that matter."""

    def __init__(self) -> None:
        self.asked: float | None = None
        self.commits: list[float] = []
        self.ran: float | None = None
        self.speech: list[tuple[str, float, float]] = []
        """(started/ended, monotonic time, audio time in the input)."""

    def observe(self, step: Step, now: float) -> None:
        match step:
            case A.SendEvent(event=event) if self.asked is None and \
                    (event.get("response") or {}).get("tool_choice") == "none":
                self.asked = time.monotonic()
            case A.SendEvent(event=event) if event.get("type") == "input_audio_buffer.commit":
                self.commits.append(time.monotonic())
            case A.RunTool() if self.ran is None:
                self.ran = time.monotonic()
            case _:
                pass


class _Spy:
    def __init__(self, inner: FrontEndLike, probe: _Probe) -> None:
        self._inner = inner
        self._probe = probe

    @property
    def wake_enabled(self) -> bool:
        return self._inner.wake_enabled

    @wake_enabled.setter
    def wake_enabled(self, value: bool) -> None:
        self._inner.wake_enabled = value

    @property
    def vad_enabled(self) -> bool:
        return self._inner.vad_enabled

    @vad_enabled.setter
    def vad_enabled(self, value: bool) -> None:
        self._inner.vad_enabled = value

    def process(self, frame: bytes, ear: bytes | None = None) -> list[Any]:
        events = self._inner.process(frame)
        for event in events:
            if isinstance(event, SpeechStarted | SpeechEnded):
                kind = "started" if isinstance(event, SpeechStarted) else "ended"
                self._probe.speech.append((kind, time.monotonic(), event.t))
        return events

    def reset_vad(self) -> None:
        self._inner.reset_vad()


@contextlib.asynccontextmanager
async def _broker() -> AsyncIterator[int]:
    """A Mosquitto broker on a free loopback port (the lock tool publishes over MQTT)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    proc = await asyncio.create_subprocess_exec("mosquitto", "-p", str(port), stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(5):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    await asyncio.sleep(0.05)  # polling a port that is not open yet: no event to wait on
                    continue
                writer.close()
                break
        yield port
    finally:
        proc.terminate()
        await proc.wait()


def _input(path: Path) -> None:
    demo = read_wav(Path(str(resources.files("speaker") / "assets" / "demo_input.wav")), 16000)
    spans = _segments(demo)
    if len(spans) < 2:
        raise RuntimeError("could not find the wake word and the command in the demo audio")
    (w0, w1), (c0, c1) = spans[0], spans[1]
    rng = np.random.default_rng(11)

    def silence(seconds: float) -> bytes:  # a quiet room: seeded white noise at -60 dBFS
        return (rng.standard_normal(int(seconds * 16000)) * 32768 * 10 ** (-60 / 20)).astype("<i2").tobytes()

    command = _cut(demo, c0 - 0.05, c1 + 0.05)
    pcm = silence(1.0) + _cut(demo, w0 - 0.05, w1 + 0.1) + silence(0.3) + command + silence(PAUSE_S) \
        + command + silence(6.0)
    write_wav(path, pcm, 16000)


async def round_trip() -> dict[str, Any]:
    from realtime_emulator import Emulator, FunctionCallSpec, Reply, Script, Turn
    from speaker.app import assemble
    from speaker.audio.factory import open_sink
    from speaker.config import load_settings

    os.environ[KEY_ENV] = KEY
    script = Script(turns=[
        Turn(heard="unlock the front door", call=FunctionCallSpec("lock_set", {"device": "front_door",
                                                                               "command": "UNLOCK"}),
             then=Reply("The front door is unlocked.")),
        Turn(reply=Reply(QUESTION)),
        Turn(heard="yes", reply=Reply("Okay.")),
    ])
    with tempfile.TemporaryDirectory(prefix="speaker-bench-confirm-") as tmp_name:
        tmp = Path(tmp_name)
        wav = tmp / "input.wav"
        _input(wav)
        (tmp / "lock.yaml").write_text(PACK)
        async with _broker() as port, Emulator(script, api_key=KEY) as emu:
            config = tmp / "bench.yaml"
            config.write_text(f"realtime:\n  url: {emu.url}\n  api_key: {{env: {KEY_ENV}}}\n"
                              "conversation:\n  follow_up_s: 1\n  idle_close_s: 1\n"
                              f"mqtt:\n  host: 127.0.0.1\n  port: {port}\n  site_id: bench\n"
                              f"tools:\n  packs: [{tmp / 'lock.yaml'}]\nstate_dir: {tmp}\n")
            loaded = load_settings([config])
            probe = _Probe()
            async with open_sink(loaded.settings.audio.output, file=tmp / "out.wav") as real_sink:
                sink = TimingSink(real_sink)
                async with assemble(loaded, api_key=KEY, input_file=wav, sink=sink, observers=[probe]) as speaker:
                    speaker.runner.frontend = _Spy(speaker.runner.frontend, probe)
                    await speaker.runner.run(speaker.source)
            calls = emu.times("response.function_call_arguments.done", sent=True)
            transcripts = emu.times("conversation.item.input_audio_transcription.completed", sent=True)
            violations = len(emu.violations)
    hangover_ms = loaded.settings.vad.hangover_ms
    nan = float("nan")
    if not calls or probe.asked is None or probe.ran is None:
        return {"ok": False, "violations": violations}
    called = calls[0]
    # the answer: the last speech the VAD heard before the tool ran
    ends = [(t, audio_t) for kind, t, audio_t in probe.speech if kind == "ended" and t <= probe.ran]
    starts = [(t, audio_t) for kind, t, audio_t in probe.speech if kind == "started" and t <= probe.ran]
    answer_end = ends[-1][0] if ends else nan
    answer_start = starts[-1][1] if starts else nan
    committed = next((t for t in probe.commits if t >= answer_end), nan)
    heard = next((t for t in sink.writes[::-1] if t <= answer_end), nan)  # the question's last audio written
    return {
        "ok": True,
        "call_to_ask_ms": (probe.asked - called) * 1000,
        "ask_to_heard_s": heard - probe.asked,
        "answer_s": (ends[-1][1] - answer_start) if ends else nan,
        "vad_end_to_commit_ms": (committed - answer_end) * 1000,
        "commit_to_transcript_ms": (next((t for t in transcripts if t >= committed), nan) - committed) * 1000,
        "commit_to_run_ms": (probe.ran - committed) * 1000,
        "call_to_run_s": probe.ran - called,
        "hangover_ms": hangover_ms,
        "pause_s": PAUSE_S,
        "violations": violations,
    }


def print_confirm() -> None:
    """The rows printed by `speaker bench --conversation` (about 15 s more)."""
    if shutil.which("mosquitto") is None:
        print("spoken confirmation: skipped (the lock tool publishes over MQTT; mosquitto is not installed)")
        return
    f = asyncio.run(round_trip())
    print("spoken confirmation (confirm: true): call -> question -> the user's yes -> the tool runs, real "
          "front end and runner, ~15 s")
    if not f["ok"]:
        print(f"  the tool never ran (emulator protocol violations: {f['violations']}); no figures")
        return
    rows = [
        ("function call arrives -> question asked", f"{f['call_to_ask_ms']:.1f} ms", "the speaker's decision"),
        ("question asked -> its last audio written to the sink", f"{f['ask_to_heard_s']:.2f} s",
         "the EMULATOR streams faster than real time; the device then plays it out"),
        ("the yes: VAD end of speech -> committed", f"{f['vad_end_to_commit_ms']:.1f} ms",
         f"plus the VAD's hangover: {f['hangover_ms']} ms of audio after the last word"),
        ("the yes committed -> its transcript sent", f"{f['commit_to_transcript_ms']:.1f} ms",
         "the EMULATOR's; the service's transcription takes longer"),
        ("the yes committed -> the tool runs", f"{f['commit_to_run_ms']:.1f} ms", "transcript + local yes check"),
        ("function call arrives -> the tool runs", f"{f['call_to_run_s']:.2f} s",
         f"includes the user's pause (the recording answers {f['pause_s']:.1f} s after the request)"),
        ("emulator protocol violations", str(f["violations"]), "target 0"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:<12} {note}")
