"""MqttConnection against a real Mosquitto broker: what reaches the broker, availability and last
will, outages and reconnects, the retained-state cache, and that publish waits for the PUBACK."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from speaker.mqtt import MqttConnection, MqttMessage, MqttUnavailable, MqttUncertain
from speaker.mqtt.errors import NOT_REACHABLE
from tests.helpers.broker import Broker
from tests.helpers.ports import free_port
from tests.mqtt.fakebroker import FakeBroker
from tests.mqtt.fixtures import HANG_S, eventually, settings_for
from tests.mqtt.recorder import Recorder, Seen

pytestmark = pytest.mark.broker

AVAILABILITY = "speaker/kitchen/availability"
REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def _is(topic: str, payload: bytes) -> Callable[[Seen], bool]:
    return lambda m: m.topic == topic and m.payload == payload


def at_once(call: Coroutine[Any, Any, T]) -> T:
    """Run ``call`` to its end without letting it wait for anything: it must return or raise on its
    first step. "Fails fast" without a stopwatch: a call that suspended (to wait for a broker, a
    timeout, a lock) fails the test, however fast or slow the machine is."""
    try:
        call.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    call.close()
    raise AssertionError("the call waited instead of finishing at once")


async def test_publish_reaches_the_broker_with_exact_qos_and_retain(
        connection: MqttConnection, recorder: Recorder) -> None:
    await connection.publish("home/a", "plain", qos=0)
    await connection.publish("home/b", b'{"x": 1}', qos=1, retain=True)
    a = await recorder.wait_topic("home/a")
    b = await recorder.wait_topic("home/b")
    assert (a.payload, a.qos, a.retain) == (b"plain", 0, False)
    assert (b.payload, b.qos, b.retain) == (b'{"x": 1}', 1, True)
    assert connection.client_id == "speaker-kitchen"


async def test_availability_online_is_retained_and_offline_follows_a_clean_exit(broker: Broker) -> None:
    async with MqttConnection(settings_for(broker), backoff_initial_s=0.05) as conn:
        assert await conn.wait_connected(5)
        late = Recorder(broker.host, broker.port, client_id="late")  # joins after: sees the retained state
        try:
            online = await late.wait_topic(AVAILABILITY)
            assert (online.payload, online.retain, online.qos) == (b"online", True, 1)
        finally:
            late.close()
        watcher = Recorder(broker.host, broker.port, client_id="watcher")
    try:
        offline = await watcher.wait_for(_is(AVAILABILITY, b"offline"))
        assert offline.retain
        assert not conn.connected
    finally:
        watcher.close()
    after = Recorder(broker.host, broker.port, client_id="after")
    try:
        kept = await after.wait_topic(AVAILABILITY)
        assert kept.payload == b"offline" and kept.retain
    finally:
        after.close()


async def test_last_will_says_offline_when_the_process_is_killed(broker: Broker, recorder: Recorder) -> None:
    script = (
        "import asyncio, sys\n"
        "from speaker.config.schema import MqttSettings\n"
        "from speaker.mqtt import MqttConnection\n"
        "async def main():\n"
        "    s = MqttSettings(host='127.0.0.1', port=int(sys.argv[1]), site_id='doomed')\n"
        "    async with MqttConnection(s) as c:\n"
        "        assert await c.wait_connected(5)\n"
        "        print('up', flush=True)\n"
        "        await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, str(broker.port), cwd=REPO,
                                                stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(10):
            assert (await proc.stdout.readline()).strip() == b"up"
        await recorder.wait_for(_is("speaker/doomed/availability", b"online"))
        proc.send_signal(signal.SIGKILL)
        async with asyncio.timeout(5):
            await proc.wait()
        will = await recorder.wait_for(_is("speaker/doomed/availability", b"offline"))
        assert will.retain and will.qos == 1
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_dead_transport_fires_the_will_then_reconnects_and_resubscribes(
        connection: MqttConnection, recorder: Recorder) -> None:
    got: list[MqttMessage] = []
    connection.subscribe("home/+/cmd", got.append)
    await connection.ensure_subscribed("home/+/cmd", 2)
    recorder.clear()
    # cut the TCP connection under the client, as a network failure would (no DISCONNECT packet)
    client = connection._client  # reaching the transport is the point of this test
    assert client is not None
    sock = client._client.socket()
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)
    # the broker publishes the will (offline), then the reconnect announces online again
    await eventually(lambda: [m.payload for m in recorder.on(AVAILABILITY)][-2:] == [b"offline", b"online"], 5)
    assert recorder.on(AVAILABILITY)[-2].retain
    assert await connection.wait_connected(5)
    await connection.ensure_subscribed("home/+/cmd", 2)
    recorder.publish("home/hall/cmd", "after reconnect")
    await eventually(lambda: bool(got), 3)
    assert got[0].topic == "home/hall/cmd" and got[0].payload == b"after reconnect"


async def test_broker_outage_fails_fast_then_reconnects(broker: Broker, connection: MqttConnection) -> None:
    broker.stop()
    await eventually(lambda: not connection.connected, 3)
    with pytest.raises(MqttUnavailable) as info:
        at_once(connection.publish("home/x", "during outage", qos=1))  # no waiting for a publish timeout
    assert str(info.value) == NOT_REACHABLE
    broker.start()
    rec = Recorder(broker.host, broker.port, client_id="after-outage")
    try:
        assert await connection.wait_connected(5)
        await rec.wait_for(_is(AVAILABILITY, b"online"))
        await connection.publish("home/x", "back", qos=1)
        seen = await rec.wait_topic("home/x")
        assert seen.payload == b"back"
        assert not [m for m in rec.messages if m.payload == b"during outage"], "a failed command was replayed"
    finally:
        rec.close()


@pytest.mark.slow
async def test_starting_without_a_broker_does_not_block_and_connects_later() -> None:
    port = free_port()
    broker = Broker("127.0.0.1", port, None)
    conn = MqttConnection(settings_for(broker), backoff_initial_s=0.05)
    at_once(conn.__aenter__())  # the daemon starts without waiting for the broker
    try:
        assert not conn.connected
        with pytest.raises(MqttUnavailable):
            at_once(conn.publish("home/x", "nobody home", qos=1))
        broker.start()
        try:
            assert await conn.wait_connected(HANG_S)
        finally:
            broker.stop()
    finally:
        await conn.__aexit__(None, None, None)


async def test_exit_during_backoff_is_prompt(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="speaker.mqtt.connection")
    broker = Broker("127.0.0.1", free_port(), None)
    conn = MqttConnection(settings_for(broker, reconnect_max_s=60), backoff_initial_s=30)
    async with asyncio.timeout(10):  # well under the 15-30 s backoff: only a prompt exit gets out in time
        async with conn:
            await eventually(lambda: "retrying in" in caplog.text)  # the first attempt failed: backing off
            assert not conn.connected
    assert conn._task is not None and not conn._task.cancelled()  # the loop ended itself, not killed at the grace


async def test_qos1_publish_waits_for_the_puback() -> None:
    async with FakeBroker("no_puback") as fake:
        settings = settings_for(Broker("127.0.0.1", fake.port, None))
        async with MqttConnection(settings, publish_timeout_s=0.3) as conn:
            assert await conn.wait_connected(HANG_S)
            # it waits for the PUBACK: still pending once the broker holds the message unacknowledged
            waiting = asyncio.create_task(conn.publish("home/x", "never acknowledged", qos=1, timeout_s=HANG_S))
            await eventually(lambda: fake.unacknowledged == ["home/x"])
            assert not waiting.done()
            waiting.cancel()
            # and gives up after the publish timeout, saying so
            with pytest.raises(MqttUncertain) as info:
                await conn.publish("home/y", "never acknowledged", qos=1)
            assert "did not acknowledge the command within 0.3 s" in str(info.value)
            assert "may not have arrived" in str(info.value)
            assert fake.unacknowledged == ["home/x", "home/y"]


async def test_connection_dropped_while_waiting_for_puback_is_reported_uncertain() -> None:
    async with FakeBroker("drop_on_publish") as fake:
        settings = settings_for(Broker("127.0.0.1", fake.port, None))
        # a publish timeout far beyond the test's bound: only noticing the loss gets out in time
        async with MqttConnection(settings, publish_timeout_s=3600) as conn:
            assert await conn.wait_connected(HANG_S)
            with pytest.raises((MqttUncertain, MqttUnavailable)) as info:
                async with asyncio.timeout(HANG_S):
                    await conn.publish("home/x", "lost", qos=1)
            assert "MQTT broker" in str(info.value)


async def test_retained_state_cache_and_wait_for(connection: MqttConnection, recorder: Recorder) -> None:
    recorder.publish("z/lamp", '{"state":"ON"}', retain=True)
    assert connection.last("z/lamp") is None
    connection.subscribe("z/lamp")
    await connection.ensure_subscribed("z/lamp", 2)
    message = await connection.wait_for("z/lamp", timeout_s=2, include_last=True)
    assert message.payload == b'{"state":"ON"}' and message.retain
    assert connection.last("z/lamp") == b'{"state":"ON"}'

    # wait_for without include_last ignores the cached state and waits for a new one
    waiting = asyncio.ensure_future(connection.wait_for("z/lamp", lambda p: b"OFF" in p, timeout_s=HANG_S))
    await asyncio.sleep(0)  # one step of the loop: the waiter is registered (no time has to pass)
    recorder.publish("z/lamp", '{"state":"DIM"}')
    recorder.publish("z/lamp", '{"state":"OFF"}')
    assert (await waiting).payload == b'{"state":"OFF"}'
    assert connection.last("z/lamp") == b'{"state":"OFF"}'

    with pytest.raises(TimeoutError):
        await connection.wait_for("z/lamp", timeout_s=0.1)
    recorder.publish("z/lamp", b"", retain=True)  # clearing the retained message clears the cache
    await eventually(lambda: connection.last("z/lamp") is None, 2)


async def test_a_failing_handler_does_not_stop_other_handlers(connection: MqttConnection,
                                                             recorder: Recorder) -> None:
    def broken(message: MqttMessage) -> None:
        raise RuntimeError("handler bug")

    good: list[bytes] = []
    connection.subscribe("h/#", broken)
    sub = connection.subscribe("h/#", lambda m: good.append(m.payload))
    await connection.ensure_subscribed("h/#", 2)
    recorder.publish("h/1", "one")
    await eventually(lambda: bool(good), 2)
    sub.close()
    recorder.publish("h/2", "two")
    await connection.wait_for("h/2", timeout_s=2)
    assert good == [b"one"] and connection.connected


async def test_the_password_is_never_logged(broker: Broker, caplog: pytest.LogCaptureFixture,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "hunter2-very-secret"
    monkeypatch.setenv("TEST_MQTT_PASSWORD", secret)
    settings = settings_for(broker, username="speaker", password={"env": "TEST_MQTT_PASSWORD"})
    caplog.set_level(logging.DEBUG)
    for name in ("speaker.mqtt.wire", "speaker.mqtt.connection"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        async with MqttConnection(settings, backoff_initial_s=0.05) as conn:
            assert await conn.wait_connected(5)
            await conn.publish("home/x", "hello", qos=1)
            broker.stop()
            await eventually(lambda: not conn.connected)  # the outage was noticed (and logged)
            broker.start()
            assert await conn.wait_connected(HANG_S)
    finally:
        logging.getLogger("speaker.mqtt.wire").setLevel(logging.WARNING)
    text = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert "Sending CONNECT" in text  # the wire log really was captured
    assert secret not in text
    assert secret not in repr(settings)


class _SwallowingClient:
    """Answers SUBSCRIBE the way aiomqtt did on Python 3.11 when the SUBACK and a cancellation
    arrived together: asyncio.wait_for returned the result and the cancellation was lost."""

    def __init__(self) -> None:
        self.subscribing = asyncio.Event()

    async def subscribe(self, topics: list[tuple[str, int]],
                        timeout: float | None = None) -> list[int]:  # noqa: ASYNC109 - aiomqtt signature
        self.subscribing.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return [0] * len(topics)
        return []


async def test_exit_cannot_hang_on_a_lost_cancellation(broker: Broker) -> None:
    conn = MqttConnection(settings_for(broker))
    conn.subscribe("a/b")
    # drive the subscriber directly: it is mid-SUBSCRIBE when the connection is closed
    client = _SwallowingClient()
    conn._task = asyncio.create_task(conn._subscriber(client))  # type: ignore[arg-type]
    await client.subscribing.wait()
    async with asyncio.timeout(3):
        await conn.__aexit__(None, None, None)
    assert conn._task.done()
