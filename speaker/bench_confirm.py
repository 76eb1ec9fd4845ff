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
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from speaker.audio.wavfile import write_wav
from speaker.bench_conversation import KEY
from speaker.bench_support import demo_request, mosquitto, print_rows, quiet_room, speaker_against_emulator
from speaker.core import actions as A
from speaker.core.conversation import Step
from speaker.listen.events import SpeechEnded, SpeechStarted

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

    def heard(self, event: Any) -> None:
        """A front end event (the bench's window on the VAD)."""
        if isinstance(event, SpeechStarted | SpeechEnded):
            kind = "started" if isinstance(event, SpeechStarted) else "ended"
            self.speech.append((kind, time.monotonic(), event.t))


def _input(path: Path) -> None:
    request = demo_request()
    silence = quiet_room(11)
    pcm = silence(1.0) + request.wake + silence(0.3) + request.command + silence(PAUSE_S) + request.command \
        + silence(6.0)
    write_wav(path, pcm, 16000)


async def round_trip() -> dict[str, Any]:
    from realtime_emulator import Emulator, FunctionCallSpec, Reply, Script, Turn

    script = Script(turns=[
        Turn(heard="unlock the front door", call=FunctionCallSpec("lock_set", {"device": "front_door",
                                                                               "command": "UNLOCK"}),
             then=Reply("The front door is unlocked.")),
        Turn(reply=Reply(QUESTION)),
        Turn(heard="yes", reply=Reply("Okay.")),
    ])
    probe = _Probe()
    with tempfile.TemporaryDirectory(prefix="speaker-bench-confirm-") as tmp_name:
        tmp = Path(tmp_name)
        wav = tmp / "input.wav"
        _input(wav)
        (tmp / "lock.yaml").write_text(PACK)
        async with mosquitto() as port, Emulator(script, api_key=KEY) as emu:
            async with speaker_against_emulator(
                    emu.url, KEY, tmp, "conversation:\n  follow_up_s: 1\n  idle_close_s: 1\n", input_file=wav,
                    observers=[probe], broker_port=port, packs=[tmp / "lock.yaml"], spy=probe.heard) as bench:
                await bench.run()
            sink = bench.sink
            assert sink is not None
            calls = emu.times("response.function_call_arguments.done", sent=True)
            transcripts = emu.times("conversation.item.input_audio_transcription.completed", sent=True)
            violations = len(emu.violations)
    hangover_ms = bench.settings.vad.hangover_ms
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
    print_rows(rows, 12)
