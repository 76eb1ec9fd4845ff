"""Several arbiters on one real Mosquitto, each with its own real MQTT connection.

Windows are timed by a shared ``ManualClock``: a window closes only when the test advances it, after
waiting (bounded) for the claims to have arrived, so nothing depends on how fast this machine is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from speaker.config.rooms import RoomsSettings
from speaker.config.schema import MqttSettings
from speaker.mqtt import MqttConnection
from speaker.mqtt.inbox import MqttMessage
from speaker.rooms.arbiter import Arbiter, Proceed, RoundState, StandDown
from speaker.rooms.clock import ManualClock
from speaker.rooms.level import Level
from speaker.rooms.mqtt import RoomsLink, WakeInfo
from tests.helpers.broker import Broker

pytestmark = pytest.mark.broker

BASE = "home"
T = 1_700_000_000.0
BOUND_S = 20.0
"""Generous bound on every wait: a busy machine is slow, never wrong."""


def mqtt_settings(broker: Broker, site: str) -> MqttSettings:
    return MqttSettings(host=broker.host, port=broker.port, site_id=site, base_topic=BASE, keepalive_s=5,
                        reconnect_max_s=1.0)


@dataclass
class Speaker:
    site: str
    link: RoomsLink
    mqtt: MqttConnection

    def wake(self, level: float, wake_id: str | None = None, offset_s: float = 0.0, score: float = 0.7) -> WakeInfo:
        return WakeInfo(wake_id or f"{self.site}-1", "hey_jarvis", T + offset_s, score, Level(level, level + 12))


@contextlib.asynccontextmanager
async def speakers(broker: Broker, sites: list[str], clock: ManualClock,
                   settings: RoomsSettings | None = None) -> AsyncIterator[dict[str, Speaker]]:
    """Real speakers (connection + link), started in the given order, each knowing all the others."""
    async with contextlib.AsyncExitStack() as stack:
        out: dict[str, Speaker] = {}
        for site in sites:
            conn = await stack.enter_async_context(MqttConnection(mqtt_settings(broker, site), backoff_initial_s=0.05))
            assert await conn.wait_connected(BOUND_S)
            link = await stack.enter_async_context(RoomsLink(conn, settings or RoomsSettings(), base_topic=BASE,
                                                             site_id=site, clock=clock,
                                                             verdict_timeout_s=120.0))
            out[site] = Speaker(site, link, conn)
        for s in out.values():
            others = set(sites) - {s.site}
            await s.link.wait_until(lambda a, o=others: a.live_peers() == o, BOUND_S)  # type: ignore[misc]
        yield out


@contextlib.asynccontextmanager
async def observer(broker: Broker) -> AsyncIterator[list[MqttMessage]]:
    """What Home Assistant would see: every 'answered' event."""
    seen: list[MqttMessage] = []
    async with MqttConnection(mqtt_settings(broker, "observer"), backoff_initial_s=0.05) as conn:
        assert await conn.wait_connected(BOUND_S)
        conn.subscribe(f"{BASE}/+/event/answered", seen.append)
        await conn.ensure_subscribed(f"{BASE}/+/event/answered")
        yield seen


async def until(condition, within: float = BOUND_S) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the messages arrive on other connections
            await asyncio.sleep(0.01)


def claims_in(wake_id: str, n: int):  # type: ignore[no-untyped-def]
    def check(a: Arbiter) -> bool:
        r = a.rounds.get(wake_id)
        return r is not None and len(r.claims) >= n
    return check


@pytest.mark.parametrize(("sites", "levels"), [
    (["kitchen", "hall", "den"], [-30.0, -22.0, -26.0]),
    (["den", "kitchen", "hall"], [-26.0, -30.0, -22.0]),
    (["zz-attic", "aa-cellar", "mm-lounge"], [-18.0, -18.5, -40.0]),
    (["b", "a", "c"], [-25.0, -25.0, -25.0]),  # a tie in level and score: the smaller site id
])
async def test_three_speakers_one_answer_from_the_loudest_everywhere_the_same(
        broker: Broker, sites: list[str], levels: list[float]) -> None:
    clock = ManualClock()
    expected = min(zip(sites, levels, strict=True), key=lambda p: (-p[1], p[0]))[0]
    async with observer(broker) as answered, speakers(broker, sites, clock) as room:
        # they hear it in the order of the list, a few ms apart (sound over a few metres)
        tasks = [asyncio.create_task(room[s].link.arbitrate(room[s].wake(lv, offset_s=0.005 * i)))
                 for i, (s, lv) in enumerate(zip(sites, levels, strict=True))]
        # every speaker heard it and every claim arrived: they decide without the clock moving
        async with asyncio.timeout(BOUND_S):
            verdicts = dict(zip(sites, await asyncio.gather(*tasks), strict=True))
        assert [s for s, v in verdicts.items() if isinstance(v, Proceed)] == [expected]
        assert {v.winner for v in verdicts.values() if isinstance(v, StandDown)} == {expected}
        await until(lambda: len(answered) == 3)
        events = [json.loads(m.payload) for m in answered]
        assert {e["winner"] for e in events} == {expected}
        assert sorted(e["site"] for e in events if e["answering"]) == [expected]


async def test_speakers_that_did_not_hear_it_make_the_others_wait_the_window(broker: Broker) -> None:
    clock = ManualClock()
    async with speakers(broker, ["kitchen", "hall", "den"], clock) as room:
        kitchen = asyncio.create_task(room["kitchen"].link.arbitrate(room["kitchen"].wake(-35.0)))
        hall = asyncio.create_task(room["hall"].link.arbitrate(room["hall"].wake(-28.0, offset_s=0.01)))
        for s in ("kitchen", "hall"):
            await room[s].link.wait_until(claims_in(f"{s}-1", 2), BOUND_S)
        assert not kitchen.done() and not hall.done()  # den did not claim: the window is still open
        clock.advance(0.1)
        async with asyncio.timeout(BOUND_S):
            assert await hall == Proceed("hall-1")
            assert await kitchen == StandDown("kitchen-1", "hall")


async def test_a_lone_speaker_answers_without_any_window(broker: Broker) -> None:
    clock = ManualClock()
    async with speakers(broker, ["kitchen"], clock) as room:
        async with asyncio.timeout(BOUND_S):  # the clock never moves: no window was waited for
            verdict = await room["kitchen"].link.arbitrate(room["kitchen"].wake(-30.0))
        assert verdict == Proceed("kitchen-1", alone=True)


async def test_a_speaker_that_leaves_is_dropped_from_the_roster_so_nobody_waits_for_it(broker: Broker) -> None:
    clock = ManualClock()
    async with speakers(broker, ["kitchen"], clock) as room:
        async with MqttConnection(mqtt_settings(broker, "hall"), backoff_initial_s=0.05) as hall_conn:
            assert await hall_conn.wait_connected(BOUND_S)
            async with RoomsLink(hall_conn, RoomsSettings(), base_topic=BASE, site_id="hall", clock=clock):
                await room["kitchen"].link.wait_until(lambda a: a.live_peers() == {"hall"}, BOUND_S)
        # hall's connection closed: its availability says offline
        await room["kitchen"].link.wait_until(lambda a: a.live_peers() == set(), BOUND_S)
        async with asyncio.timeout(BOUND_S):
            assert await room["kitchen"].link.arbitrate(room["kitchen"].wake(-30.0)) == Proceed("kitchen-1",
                                                                                                alone=True)


async def test_a_claim_from_a_speaker_whose_availability_is_offline_is_ignored(broker: Broker) -> None:
    clock = ManualClock()
    async with speakers(broker, ["kitchen", "den"], clock) as room, \
            MqttConnection(mqtt_settings(broker, "forger"), backoff_initial_s=0.05) as raw:
        assert await raw.wait_connected(BOUND_S)
        kitchen = room["kitchen"].link
        await raw.publish(f"{BASE}/ghost/availability", "offline", qos=1, retain=True)
        await kitchen.wait_until(lambda a: a._online.get("ghost") is False, BOUND_S)
        task = asyncio.create_task(kitchen.arbitrate(room["kitchen"].wake(-30.0)))
        ghost = {"v": 1, "site": "ghost", "wake_id": "g1", "wake_word": "hey_jarvis", "detected_at": T,
                 "level_dbfs": -5.0, "score": 0.99}
        await raw.publish(f"{BASE}/ghost/rooms/claim", json.dumps(ghost), qos=1)
        await kitchen.wait_until(lambda a: ("ghost", "g1") in a._seen, BOUND_S)
        clock.advance(0.1)
        async with asyncio.timeout(BOUND_S):
            assert await task == Proceed("kitchen-1")


async def test_when_the_winner_cannot_open_its_session_the_runner_up_takes_over(broker: Broker) -> None:
    clock = ManualClock()
    async with observer(broker) as answered, speakers(broker, ["kitchen", "hall", "den"], clock) as room:
        levels = {"kitchen": -30.0, "hall": -20.0, "den": -25.0}
        tasks = {s: asyncio.create_task(room[s].link.arbitrate(room[s].wake(lv))) for s, lv in levels.items()}
        async with asyncio.timeout(BOUND_S):
            verdicts = {s: await t for s, t in tasks.items()}
        assert verdicts["hall"] == Proceed("hall-1")
        await room["hall"].link.release("hall-1")  # e.g. the Realtime endpoint refused the session
        async with asyncio.timeout(BOUND_S):
            assert await room["den"].link.next_decision() == Proceed("den-1", takeover=True)
        await until(lambda: any(json.loads(m.payload).get("takeover") for m in answered))
        assert room["kitchen"].link.arbiter.rounds["kitchen-1"].state is RoundState.LOST
        assert room["kitchen"].link._later.empty()


async def test_with_the_broker_down_every_speaker_answers_alone_at_once(broker: Broker) -> None:
    clock = ManualClock()
    async with speakers(broker, ["kitchen", "hall"], clock) as room:
        broker.stop()
        for s in room.values():
            await s.link.wait_until(lambda a: not a.connected, BOUND_S)
        async with asyncio.timeout(BOUND_S):
            for s, lv in (("kitchen", -30.0), ("hall", -20.0)):
                assert await room[s].link.arbitrate(room[s].wake(lv)) == Proceed(f"{s}-1", alone=True)


async def test_garbage_on_the_claim_topics_is_dropped_and_arbitration_goes_on(broker: Broker) -> None:
    clock = ManualClock()
    async with speakers(broker, ["kitchen", "hall"], clock) as room, \
            MqttConnection(mqtt_settings(broker, "forger"), backoff_initial_s=0.05) as raw:
        assert await raw.wait_connected(BOUND_S)
        for junk in (b"\xff", b"{}", b'{"v": 9}', b'{"v": 1, "site": "kitchen"}'):
            await raw.publish(f"{BASE}/hall/rooms/claim", junk, qos=1)
        await raw.publish(f"{BASE}/hall/rooms/presence", b"nonsense", qos=1)
        await room["kitchen"].link.wait_until(lambda a: room["kitchen"].link.dropped >= 5, BOUND_S)
        tasks = [asyncio.create_task(room[s].link.arbitrate(room[s].wake(lv))) for s, lv in (("kitchen", -20.0),
                                                                                             ("hall", -30.0))]
        async with asyncio.timeout(BOUND_S):
            assert [type(v) for v in await asyncio.gather(*tasks)] == [Proceed, StandDown]
