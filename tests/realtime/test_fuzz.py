"""Fuzz: 10,000 mutated GA server events through the decoder, the sequence guard and a file sink, with
0 exceptions, and what gets through still makes sense (no audio that is not whole samples, no bill for
a response that was never created, no tool run for a call that was never announced).

Seeded (a fixed ``random.Random`` seed, hypothesis ``derandomize=True``), no deadline."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
import math
import random
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_emulator import validate_server_event
from speaker.audio.file_sink import FileSink
from speaker.realtime.events import (
    AudioDelta,
    FunctionCall,
    ItemTruncated,
    RealtimeEvent,
    ResponseCreated,
    ResponseDone,
    ServerSpeechStarted,
    ServerSpeechStopped,
)
from speaker.realtime.guard import Intake
from tests.realtime.ga_events import session

log = logging.getLogger("test.fuzz")
SEEDS = session()
EVENTS = 10_000
HUGE = "x" * 100_000
ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, 2**63, -(2**63), 10**30, math.inf, -math.inf, math.nan, 1e308, "", "0",
    HUGE, [], [1, [2]], {}, {"a": {"b": None}}, "\u0000\ud7ff\uffff", "resp_1", "item_1", "call_1",
]


def test_the_seed_events_are_valid_ga_events() -> None:
    """The mutations start from real protocol: every seed passes the openai types."""
    for event in SEEDS:
        validate_server_event(event)


# ---------------------------------------------------------------------------- mutations


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*prefix, k))
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((*prefix, i))
            out += _paths(v, (*prefix, i))
    return out


def _set(event: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> None:
    target = event
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value


def _garble_audio(rng: random.Random) -> str:
    pcm = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
    good = base64.b64encode(pcm).decode()
    return rng.choice([
        good, good[:-1], good + "=", "***", good.replace("A", "-"), " " + good, good * 3 + "A",
        base64.b64encode(pcm + b"\x01").decode(), base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
        HUGE, "",
    ])


def mutate(event: dict[str, Any], rng: random.Random) -> Any:
    """One to three random mutations of a copy of ``event`` (or something that is not an event at all)."""
    event = copy.deepcopy(event)
    for _ in range(rng.randint(1, 3)):
        paths = _paths(event) if isinstance(event, dict) else []
        op = rng.randrange(9)
        if op == 0 and paths:  # drop a key
            path = rng.choice(paths)
            _set(event, path, None, delete=True)
        elif op in (1, 2) and paths:  # swap a value for one of another type / out of range
            _set(event, rng.choice(paths), rng.choice(ODD_VALUES))
        elif op == 3 and isinstance(event, dict) and "delta" in event:
            event["delta"] = _garble_audio(rng)
        elif op == 4 and isinstance(event, dict):  # an unknown or nearly known type
            event["type"] = rng.choice(["response.output_audio.deltaa", "brand.new", "", HUGE, 5, None,
                                        "response.done", "response.created", "error"])
        elif op == 5 and paths:  # a huge string where a string was
            _set(event, rng.choice(paths), HUGE)
        elif op == 6 and isinstance(event, dict):  # ids that refer to nothing
            for key in ("response_id", "item_id", "call_id"):
                if key in event:
                    event[key] = rng.choice(["resp_x", "item_x", "call_x", "resp_1", "item_2", "call_1"])
        elif op == 7:
            event = rng.choice([[], "text", 42, None, [event]])
        elif paths:  # a number anywhere becomes inf, NaN or huge
            _set(event, rng.choice(paths), rng.choice([math.inf, -math.inf, math.nan, 10**400, -7, 1e309]))
    return event


def frame(event: Any, rng: random.Random) -> str | bytes:
    """The wire text (NaN/Infinity literals included), sometimes cut or binary."""
    text = json.dumps(event, allow_nan=True)
    r = rng.random()
    if r < 0.02:
        return text[: rng.randrange(len(text) + 1)]
    if r < 0.03:
        return text.encode()
    return text


# ---------------------------------------------------------------------------- what must hold


class Checker:
    """Feeds frames through a fresh intake per session and checks what is delivered."""

    def __init__(self) -> None:
        self.intake = Intake(log)
        self.created: set[str] = set()
        self.done: set[str] = set()
        self.delivered = 0
        self.pcm: list[bytes] = []

    def new_session(self) -> None:
        self.intake = Intake(log)
        self.created.clear()
        self.done.clear()

    def take(self, raw: str | bytes) -> RealtimeEvent | None:
        event = self.intake.take(raw)
        if event is None:
            return None
        self.delivered += 1
        match event:
            case ResponseCreated(response_id=rid):
                assert rid not in self.created
                self.created.add(rid)
            case ResponseDone(response_id=rid):
                assert rid in self.created and rid not in self.done  # billed once, only if it existed
                self.done.add(rid)
                usage = event.usage
                assert all(isinstance(n, int) and 0 <= n <= 10**9 for n in
                           (usage.text_in, usage.audio_in, usage.text_out, usage.audio_out))
            case AudioDelta(response_id=rid, pcm=pcm):
                assert rid in self.created and rid not in self.done and len(pcm) % 2 == 0
                self.pcm.append(pcm)
            case FunctionCall(response_id=rid):
                assert rid in self.created and rid not in self.done
            case ServerSpeechStarted(audio_start_ms=ms) | ServerSpeechStopped(audio_end_ms=ms) \
                    | ItemTruncated(audio_end_ms=ms):
                assert isinstance(ms, int) and 0 <= ms <= 24 * 3600 * 1000
            case _:
                pass
        return event


def _mutated_session(rng: random.Random) -> list[str | bytes]:
    events = list(SEEDS)
    if rng.random() < 0.3:
        rng.shuffle(events)
    frames: list[str | bytes] = []
    for event in events:
        r = rng.random()
        if r < 0.55:
            frames.append(frame(mutate(event, rng), rng))
        elif r < 0.6:
            frames += [json.dumps(event)] * 2  # a duplicate
        else:
            frames.append(json.dumps(event))
    return frames


def _renamed(suffix: str) -> list[str]:
    """The seed session with fresh ids: a new, valid stretch of the same connection."""
    text = json.dumps(SEEDS)
    for prefix in ("resp_", "item_", "call_"):
        text = text.replace(f'"{prefix}', f'"{prefix}{suffix}')
    return [json.dumps(e) for e in json.loads(text)]


def test_ten_thousand_mutated_events_raise_nothing_and_deliver_only_sense(tmp_path: Path) -> None:
    """Each connection gets a mutated session, then a clean one with new ids: garbage must not leave
    the connection in a state that drops the valid traffic after it."""
    rng = random.Random(20261121)
    clean = Checker()
    expected = sum(clean.take(f) is not None for f in _renamed("b"))
    checker = Checker()
    fuzzed = connections = 0
    started = time.process_time()
    while fuzzed < EVENTS:
        checker.new_session()
        frames = _mutated_session(rng)
        for raw in frames:
            checker.take(raw)
        fuzzed += len(frames)
        before = checker.delivered
        for raw in _renamed("b"):
            checker.take(raw)
        assert checker.delivered - before == expected, f"connection {connections}: valid traffic dropped"
        connections += 1
    spent = time.process_time() - started
    print(f"fuzz: {fuzzed} mutated frames on {connections} connections in {spent:.2f} CPU-s "
          f"(plus {connections * len(SEEDS)} clean ones)")
    assert checker.pcm  # real audio got through
    # whatever audio came through plays on a sink without an error
    asyncio.run(_play(tmp_path / "fuzz.raw", checker.pcm))
    assert (tmp_path / "fuzz.raw").stat().st_size == sum(len(p) for p in checker.pcm)


async def _play(path: Path, chunks: list[bytes]) -> None:
    async with FileSink(path, realtime=False) as sink:
        for pcm in chunks:
            sink.write(pcm)


@settings(max_examples=500, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(SEEDS) - 1), st.integers(0, 2**32 - 1)), min_size=1, max_size=40))
def test_hypothesis_mutated_sequences_raise_nothing(plan: list[tuple[int, int]]) -> None:
    """Hypothesis picks the seed events, their order and each mutation's seed; a session runs them."""
    checker = Checker()
    for index, seed in plan:
        rng = random.Random(seed)
        event = SEEDS[index] if seed % 3 == 0 else mutate(SEEDS[index], rng)
        checker.take(frame(event, rng))
