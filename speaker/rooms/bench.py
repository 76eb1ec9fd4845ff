"""`speaker bench --rooms`: many simulated speakers arbitrating on one real Mosquitto.

Starts ``mosquitto`` on a free loopback port, connects N speakers (each its own MQTT connection and
``RoomsLink``, in this process), delays every message each speaker receives by a random 0…max ms
(a slow broker / Wi-Fi), and plays W wakes: each is heard by a random subset of the speakers, a few
ms apart, at jittered levels and scores. Prints messages per wake, decision latency p50/p95 and the
share of wakes that ended with exactly one answering speaker, the loudest. Figures, not assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from speaker.config.rooms import RoomsSettings
from speaker.config.schema import MqttSettings
from speaker.mqtt.connection import MqttConnection
from speaker.mqtt.inbox import MqttMessage
from speaker.rooms.arbiter import Claim, Proceed, Yield
from speaker.rooms.level import Level
from speaker.rooms.mqtt import RoomsLink, WakeInfo

BASE = "speaker-bench"
SETTLE_S = 0.6
"""After the last verdict of a wake: time for late claims (yields) and events to arrive."""


@dataclass
class WakeRun:
    expected: str
    hearers: int
    latencies: dict[str, float] = field(default_factory=dict)
    proceeded: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def _mosquitto() -> Iterator[int]:
    port = _free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as conf:
        conf.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    proc = subprocess.Popen(["mosquitto", "-c", conf.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        Path(conf.name).unlink(missing_ok=True)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.asynccontextmanager
async def _speakers(port: int, n: int, rng: random.Random, max_delay_ms: float,
                    settings: RoomsSettings) -> AsyncIterator[dict[str, RoomsLink]]:
    async with contextlib.AsyncExitStack() as stack:
        links: dict[str, RoomsLink] = {}
        for i in range(n):
            site = f"room{i:02d}"
            mqtt = MqttSettings(host="127.0.0.1", port=port, site_id=site, base_topic=BASE, keepalive_s=10)
            conn = await stack.enter_async_context(MqttConnection(mqtt, backoff_initial_s=0.05))
            if not await conn.wait_connected(10):
                raise RuntimeError(f"{site} could not connect to the bench broker")
            links[site] = await stack.enter_async_context(RoomsLink(
                conn, settings, base_topic=BASE, site_id=site,
                delivery_delay=lambda: rng.uniform(0.0, max_delay_ms / 1000.0)))
        for site, link in links.items():
            others = set(links) - {site}
            await link.wait_until(lambda a, o=others: a.live_peers() == o, 20.0)  # type: ignore[misc]
        yield links


async def run(speakers: int = 20, wakes: int = 20, max_delay_ms: float = 50.0, seed: int = 13,
              settings: RoomsSettings | None = None) -> int:
    """Run the bench and print its figures (returns 0; 1 if mosquitto is missing)."""
    if shutil.which("mosquitto") is None:
        print("speaker bench --rooms: needs the mosquitto binary (apt install mosquitto)")
        return 1
    settings = settings or RoomsSettings()
    rng = random.Random(seed)
    published: Counter[int] = Counter()
    runs: list[WakeRun] = []
    later: list[tuple[str, Proceed | Yield]] = []
    lags: list[float] = []
    asked: dict[str, float] = {}
    """Loop time each simulated speaker asked its arbiter (so published its claim)."""
    transit: list[float] = []
    """Claim published → seen by an observer on the same broker (no injected delay)."""

    def count(message: MqttMessage) -> None:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            wake_id = str(json.loads(message.payload)["wake_id"])
            published[int(wake_id.split("-")[0][1:])] += 1
            if message.topic.endswith("/rooms/claim") and wake_id in asked:
                transit.append(message.received - asked[wake_id])

    with _mosquitto() as port:
        watch = MqttSettings(host="127.0.0.1", port=port, site_id="bench-observer", base_topic=BASE)
        async with MqttConnection(watch) as observer, \
                _speakers(port, speakers, rng, max_delay_ms, settings) as links:
            await observer.wait_connected(10)
            for leaf in ("rooms/claim", "rooms/release", "event/answered"):
                observer.subscribe(f"{BASE}/+/{leaf}", count)
                await observer.ensure_subscribed(f"{BASE}/+/{leaf}")

            async def drain(site: str, link: RoomsLink) -> None:
                while True:
                    later.append((site, await link.next_decision()))

            async def probe() -> None:
                loop = asyncio.get_running_loop()
                while True:
                    start = loop.time()
                    await asyncio.sleep(0.01)
                    lags.append(loop.time() - start - 0.01)

            async with asyncio.TaskGroup() as group:
                drains = [group.create_task(drain(s, lk), name=f"bench-drain {s}") for s, lk in links.items()]
                drains.append(group.create_task(probe(), name="bench-loop-lag"))
                for w in range(wakes):
                    runs.append(await _one_wake(w, links, rng, asked))
                    await asyncio.sleep(SETTLE_S)
                for task in drains:
                    task.cancel()
    _report(runs, published, later, lags, transit, speakers, max_delay_ms, settings)
    return 0


async def _one_wake(w: int, links: dict[str, RoomsLink], rng: random.Random, asked: dict[str, float]) -> WakeRun:
    hearers = rng.sample(sorted(links), rng.randint(2, len(links)))
    t0 = time.time()
    claims = {s: Claim(s, f"w{w}-{s}", "hey_jarvis", 0.0, -20.0 + rng.uniform(-12.0, 12.0),
                       rng.uniform(0.5, 0.95)).rounded() for s in hearers}
    expected = min(claims.values(), key=Claim.rank).site
    run = WakeRun(expected, len(hearers))
    loop = asyncio.get_running_loop()

    async def hear(site: str) -> None:
        offset = rng.uniform(0.0, 0.03)  # sound over up to 10 m, detector jitter
        await asyncio.sleep(offset)
        c = claims[site]
        start = asked[c.wake_id] = loop.time()
        verdict = await links[site].arbitrate(WakeInfo(c.wake_id, c.wake_word, t0 + offset, c.score,
                                                       Level(c.level_dbfs, c.level_dbfs + 12.0)))
        run.latencies[site] = loop.time() - start
        if isinstance(verdict, Proceed):
            run.proceeded.append(site)

    async with asyncio.TaskGroup() as group:
        for site in hearers:
            group.create_task(hear(site), name=f"bench-wake {w} {site}")
    return run


def _report(runs: list[WakeRun], published: Counter[int], later: list[tuple[str, Proceed | Yield]],
            lags: list[float], transit: list[float], speakers: int, max_delay_ms: float,
            settings: RoomsSettings) -> None:
    exact = correct = 0
    for w, run in enumerate(runs):
        answering = set(run.proceeded)
        for site, decision in later:
            if decision.wake_id.startswith(f"w{w}-"):
                if isinstance(decision, Proceed):
                    answering.add(site)
                else:
                    answering.discard(site)
        exact += len(answering) == 1
        correct += answering == {run.expected}
    everyone = [v * 1000 for r in runs for v in r.latencies.values()]
    winners = [r.latencies[r.expected] * 1000 for r in runs if r.expected in r.latencies]
    yields = sum(isinstance(d, Yield) for _, d in later)
    n = len(runs)
    per_wake = [published[w] for w in range(n)]
    hearers = [r.hearers for r in runs]
    print(f"speaker bench --rooms: {speakers} speakers on one Mosquitto, {n} wakes, each heard by "
          f"{min(hearers)}–{max(hearers)} of them (mean {statistics.mean(hearers):.1f}); every received message "
          f"delayed 0–{max_delay_ms:g} ms; window {settings.window_ms} ms")
    print(f"  messages published per wake (claims + 'answered' events): mean {statistics.mean(per_wake):.1f}, "
          f"max {max(per_wake)}; deliveries per wake ≈ claims × {speakers} subscribers: "
          f"{statistics.mean(hearers) * speakers:.0f}")
    print(f"  decision latency, every hearer: p50 {_pct(everyone, 0.5):.1f} ms, p95 {_pct(everyone, 0.95):.1f} ms")
    print(f"  decision latency, the winner (its extra wake→first audio): p50 {_pct(winners, 0.5):.1f} ms, "
          f"p95 {_pct(winners, 0.95):.1f} ms, max {max(winners, default=float('nan')):.1f} ms")
    print(f"  claim transit through the broker (before the injected delay): p50 {_pct(transit, 0.5) * 1000:.1f} ms, "
          f"p95 {_pct(transit, 0.95) * 1000:.1f} ms, max {max(transit, default=0.0) * 1000:.1f} ms")
    print(f"  event-loop lag of this one process running all {speakers}: p50 {_pct(lags, 0.5) * 1000:.1f} ms, "
          f"p95 {_pct(lags, 0.95) * 1000:.1f} ms, max {max(lags, default=0.0) * 1000:.1f} ms")
    print(f"  wakes with exactly one answering speaker: {exact}/{n} ({100 * exact / n:.0f} %); "
          f"the loudest one: {correct}/{n} ({100 * correct / n:.0f} %); late yields: {yields}")


def main(speakers: int = 20, wakes: int = 20, max_delay_ms: float = 50.0) -> int:
    return asyncio.run(run(speakers, wakes, max_delay_ms))


if __name__ == "__main__":
    raise SystemExit(main())
