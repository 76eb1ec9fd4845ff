"""Budget figures for `speaker bench --conversation`: how long a wake word takes to be answered locally
when the day's budget is spent (no connection), measured on the real daemon parts against the emulator."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from speaker.audio.wavfile import write_wav
from speaker.bench_conversation import KEY
from speaker.bench_support import demo_audio, speaker_against_emulator
from speaker.core import outputs as O
from speaker.core.conversation import Step

WAKE_INPUT_S = 4.0
"""The demo recording's first seconds: quiet, then "hey jarvis"."""


class _Refusals:
    """A runner observer: when the core decided the refusal (the wake word's own event)."""

    def __init__(self) -> None:
        self.at: list[float] = []

    def observe(self, step: Step, now: float) -> None:
        if isinstance(step, O.BudgetRefused):
            self.at.append(time.monotonic())


async def refusal() -> dict[str, Any]:
    from realtime_emulator import Emulator, Script

    probe = _Refusals()
    with tempfile.TemporaryDirectory(prefix="speaker-bench-budget-") as tmp_name:
        tmp = Path(tmp_name)
        wav = tmp / "wake.wav"
        write_wav(wav, demo_audio()[: int(WAKE_INPUT_S * 16000) * 2], 16000)
        today = datetime.now().astimezone().date().isoformat()  # the bench's own clock, not the core's
        (tmp / "device.json").write_text(json.dumps({"cost_date": today, "cost_usd": 0.5,
                                                     "cost_month": today[:7], "cost_month_usd": 0.5}))
        async with Emulator(Script(), api_key=KEY) as emu:
            async with speaker_against_emulator(emu.url, KEY, tmp, "cost:\n  daily_usd: 0.25\n", input_file=wav,
                                                observers=[probe]) as bench:
                await bench.run()
            connections = emu.connections
    sink = bench.sink
    assert sink is not None
    first_write = next((w for w in sink.writes if probe.at and w >= probe.at[0]), None)
    return {
        "refusals": len(probe.at),
        "decided_to_sink_ms": (first_write - probe.at[0]) * 1000 if first_write is not None else float("nan"),
        "connections": connections,
    }


def print_refusal() -> None:
    """The rows printed by `speaker bench --conversation` (about 5 s more)."""
    f = asyncio.run(refusal())
    print("budget spent (cost.daily_usd): a wake word answered locally, real front end and runner, ~5 s")
    print(f"  wake word heard -> refusal phrase reaches the sink  {f['decided_to_sink_ms']:.2f} ms "
          f"({f['refusals']} refusal, {f['connections']} Realtime connections; a device adds its buffer: "
          "audio.output.latency_ms)")
