"""Token growth and the cost of memory, printed by ``speaker bench --conversation`` (figures, never
asserted).

Both run the real Realtime client against the EMULATOR on loopback, at the protocol level (no audio
devices, replies streamed fast): each user turn is 2 s of quiet-room audio appended, committed and
answered (``response.create``); the emulator's scripted reply is spoken audio plus its transcript.
Input tokens are the EMULATOR's model of the service (``realtime_emulator.conversation``): every
response's input is the instructions and tools plus the whole conversation so far (user audio 1 token
per 100 ms, assistant audio 1 per 50 ms, text ~4 characters per token); the repeated prefix counts as
cached; ``truncation`` with ``retention_ratio`` drops the oldest items beyond
``token_limits.post_instructions``. Costs are the configured price table (``realtime.prices``) times
those tokens.

1. Per-turn input tokens and cost over a 20-turn conversation, with the session's truncation off and
   with ``retention_ratio`` 0.8 at a low ``post_instructions`` limit (so that it acts within 20 turns;
   the speaker's default limit is 8000 tokens, reached after about 100 such turns).
2. Memory: one more turn after a gap, (a) in the session kept open over the gap, (b) in a new session
   seeded with the summary (``speaker.core.memory``) of the earlier exchange.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from speaker.config.realtime import RealtimeSettings
from speaker.core.memory import Memory
from speaker.realtime import events as rt
from speaker.realtime.client import RealtimeConnection
from speaker.realtime.cost import PriceTable
from speaker.realtime.session_config import build_session

KEY = "sk-emulator-bench-tokens"
TURNS = 20
USER_S = 2.0
LOW_LIMIT = 1000
WHISPER_PER_MINUTE = 0.017
REPLIES = ("The kitchen light is on.", "Done, the bedroom light is on too.", "It is twenty one degrees inside.",
           "I dimmed the hallway to half.", "The front door is locked.")
QUESTIONS = ("turn on the kitchen light", "and the bedroom too", "how warm is it inside",
             "dim the hallway", "is the front door locked")


@dataclass(frozen=True)
class TurnFigure:
    usage: rt.Usage
    usd: float

    @property
    def input_tokens(self) -> int:
        return self.usage.text_in + self.usage.audio_in

    @property
    def cached_tokens(self) -> int:
        return self.usage.text_cached + self.usage.audio_cached


def _user_audio(rng: np.random.Generator) -> bytes:
    """2 s of a quiet room at 24 kHz (what the speaker uploads is resampled to this)."""
    return (rng.standard_normal(int(USER_S * 24000)) * 32.768).astype("<i2").tobytes()


async def _turn(conn: RealtimeConnection, pcm: bytes, prices: PriceTable) -> tuple[TurnFigure, str]:
    conn.append_audio(pcm)
    conn.send({"type": "input_audio_buffer.commit"})
    conn.send({"type": "response.create"})
    said = ""
    async for ev in conn.events():
        if isinstance(ev, rt.TranscriptDone):
            said = ev.transcript
        elif isinstance(ev, rt.ResponseDone):
            return TurnFigure(ev.usage, prices.turn(ev.usage)), said
        elif isinstance(ev, rt.ServerError):
            raise RuntimeError(f"emulator error: {ev.message}")
    raise RuntimeError("the emulator closed the session")


async def _conversation(url: str, settings: RealtimeSettings, turns: int, *,
                        seed: dict[str, Any] | None = None, memory: Memory | None = None) -> list[TurnFigure]:
    rng = np.random.default_rng(11)
    prices = PriceTable.for_settings(settings)
    cfg = build_session(settings, tools=[], mcp_tools=[])
    figures = []
    async with await RealtimeConnection.open(settings.model_copy(update={"url": url}), KEY, session=cfg) as conn:
        if seed is not None:
            conn.send(seed)
        for n in range(turns):
            figure, said = await _turn(conn, _user_audio(rng), prices)
            figures.append(figure)
            if memory is not None:
                memory.user(QUESTIONS[n % len(QUESTIONS)])
                memory.assistant(said)
    return figures


async def run() -> dict[str, Any]:
    from realtime_emulator import Emulator, Reply, Script, Turn

    replies = [Turn(reply=Reply(REPLIES[n % len(REPLIES)])) for n in range(4 * TURNS)]
    base = RealtimeSettings()
    async with Emulator(Script(turns=replies), api_key=KEY, speed=200) as emu:
        whole = await _conversation(emu.url, base.model_copy(update={"retention_ratio": None}), TURNS)
        bounded = await _conversation(emu.url, base.model_copy(update={"post_instructions_token_limit": LOW_LIMIT}),
                                      TURNS)
        memory = Memory(300)
        kept_open = await _conversation(emu.url, base, 6, memory=None)
        first = await _conversation(emu.url, base, 5, memory=memory)
        seeded = await _conversation(emu.url, base, 1, seed=memory.item())
        violations = len(emu.violations)
    transcribed_s = 5 * USER_S
    return {"whole": whole, "bounded": bounded, "open": kept_open, "first": first, "seeded": seeded,
            "summary_chars": len(memory.summary() or ""), "violations": violations,
            "transcription": _transcription_usd(base, transcribed_s),
            "transcribed_s": transcribed_s, "uncached_open_usd": _uncached(kept_open[-1], base)}


def _uncached(figure: TurnFigure, settings: RealtimeSettings) -> float:
    """The kept-open turn as if nothing were cached (the service's cache is best effort and short-lived):
    the same tokens, the cached ones priced as new."""
    return PriceTable.for_settings(settings).turn(replace(figure.usage, text_cached=0, audio_cached=0))


def _transcription_usd(settings: RealtimeSettings, seconds: float) -> tuple[float, str]:
    """The configured transcription price, else gpt-realtime-whisper's documented $0.017 per minute."""
    usd = PriceTable.for_settings(settings).transcription(seconds)
    if usd > 0:
        return usd, "the configured price"
    return seconds / 60 * WHISPER_PER_MINUTE, f"${WHISPER_PER_MINUTE}/min, gpt-realtime-whisper's documented price"


def print_figures() -> None:
    print(f"token growth: {TURNS} turns against the EMULATOR (its token model: input = instructions + the whole "
          "conversation so far, no tools offered; 2 s of user audio per turn; see speaker/bench_tokens.py)")
    f = asyncio.run(run())
    print(f"  {'turn':>4}  {'input (no truncation)':>22}  {'cost':>8}  "
          f"{'input (retention 0.8, limit ' + str(LOW_LIMIT) + ')':>36}  {'cost':>8}")
    for n, (a, b) in enumerate(zip(f["whole"], f["bounded"], strict=True), 1):
        print(f"  {n:>4}  {a.input_tokens:>13} ({a.cached_tokens:>5} cached)  ${a.usd:.5f}  "
              f"{b.input_tokens:>27} ({b.cached_tokens:>5} cached)  ${b.usd:.5f}")
    print(f"  total {sum(x.usd for x in f['whole']):.4f} USD without truncation, "
          f"{sum(x.usd for x in f['bounded']):.4f} USD with it")
    kept, seeded = f["open"][-1], f["seeded"][0]
    print("memory: one more turn after a gap, after 5 turns (prices x the emulator's tokens)")
    print(f"  session kept open over the gap   turn 6: {kept.input_tokens} input tokens ({kept.cached_tokens} "
          f"cached) ${kept.usd:.5f}; ${f['uncached_open_usd']:.5f} if the cache expired in the gap")
    print(f"  closed, new session + summary    turn 6: {seeded.input_tokens} input tokens "
          f"(summary {f['summary_chars']} characters) ${seeded.usd:.5f}; the user's words in it need input "
          f"transcription: +${f['transcription'][0]:.5f} for {f['transcribed_s']:.0f} s of speech "
          f"({f['transcription'][1]})")
    print("  an open session bills no time, only tokens: with local turn detection nothing is uploaded in the "
          "gap, so keeping it open costs the re-billed history in every later turn, and the 60-minute cap")
    print(f"  emulator protocol violations: {f['violations']} (target 0)")
