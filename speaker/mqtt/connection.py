"""One MQTT connection for the whole daemon, kept alive by an explicit reconnect loop.

``MqttConnection`` is an async context manager. While it is open, a named background task connects,
subscribes everything registered so far, publishes a retained ``online`` to the availability topic
(the broker publishes the retained ``offline`` last will if we vanish), reads messages, and on any
loss waits a jittered, growing delay and starts again. Callers never wait for the broker: while it
is down ``publish`` fails at once with ``MqttUnavailable`` so a tool can tell the user, and the
rest of the speaker keeps working.

Each attempt uses a fresh aiomqtt client with a clean session, so a command that could not be sent
is never delivered later by a reconnect ("turn the heater on" an hour late is worse than an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import ssl
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeVar

import aiomqtt
from paho.mqtt.reasoncodes import ReasonCode

from speaker.backoff import Backoff
from speaker.config.schema import MqttSettings
from speaker.errors import SecretError
from speaker.mqtt.errors import MqttRefused, MqttUnavailable, MqttUncertain
from speaker.mqtt.inbox import Handler, Inbox, MqttMessage, Predicate
from speaker.mqtt.tls import tls_context
from speaker.mqtt.topics import filter_problem, publish_topic_problem

__all__ = ["Handler", "MqttConnection", "MqttMessage", "Predicate", "Subscription"]

log = logging.getLogger(__name__)

# paho logs every packet (PINGREQ, PUBLISH…) at DEBUG. Those lines are never wanted, even with
# --debug; it never logs the password (only whether one is set).
_wire_log = logging.getLogger("speaker.mqtt.wire")
_wire_log.setLevel(logging.WARNING)

T = TypeVar("T")

ONLINE = b"online"
OFFLINE = b"offline"


class Subscription:
    """A registered topic filter (and optional handler). ``close()`` removes the handler; the
    broker-side subscription ends with the next reconnect."""

    def __init__(self, owner: MqttConnection, topic_filter: str, handler: Handler | None) -> None:
        self.topic_filter = topic_filter
        self.handler = handler
        self._owner = owner
        self._open = True

    def close(self) -> None:
        if self._open:
            self._open = False
            self._owner._remove(self)


class _Closing(Exception):
    """Raised inside the session task group to end it for a clean shutdown."""


class _ConnectionLost(Exception):
    """An established connection dropped (already logged; the loop reconnects)."""


class MqttConnection:
    """The daemon's MQTT connection (see the module docstring).

    Usage::

        async with MqttConnection(settings.mqtt) as mqtt:
            mqtt.subscribe("zigbee2mqtt/Kitchen", on_state)
            await mqtt.publish("zigbee2mqtt/Kitchen/set", '{"state": "ON"}', qos=1)
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        publish_timeout_s: float = 5.0,
        connect_timeout_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._publish_timeout_s = publish_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._backoff = Backoff(backoff_initial_s, cap=max(backoff_initial_s, settings.reconnect_max_s), rng=rand,
                                min_fraction=0.5)
        self.client_id = settings.client_id or f"speaker-{settings.site_id}"
        self.availability_topic = f"{settings.base_topic}/{settings.site_id}/availability"

        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._connected = False
        self._lost = asyncio.Event()
        self._up = asyncio.Event()
        self._state = asyncio.Condition()
        self._want_subscribe = asyncio.Event()

        self._filters: dict[str, int] = {}
        """Registered filters with how many Subscriptions use each."""
        self._active: set[str] = set()
        """Filters the broker acknowledged on the current connection."""
        self._refused: set[str] = set()
        self._inbox = Inbox()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        if self._task is not None:
            raise RuntimeError("an MqttConnection can be entered once")
        where = f"{self._settings.host}:{self._settings.port}"
        self._task = asyncio.create_task(self._run(), name=f"mqtt-connection {where}")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        """Publish ``offline``, disconnect cleanly (bounded), then stop the background task."""
        self._closing.set()
        self._want_subscribe.set()
        task = self._task
        if task is None:
            return
        # connected: time to publish "offline" and disconnect; otherwise there is nobody to tell
        grace = self._publish_timeout_s + 2.0 if self._connected else 0.5
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            if self._connected:
                log.warning("MQTT: clean disconnect took too long; closing the connection abruptly")
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise

    @property
    def connected(self) -> bool:
        """True while the broker has accepted us and the connection is believed alive."""
        return self._connected

    async def wait_connected(self, timeout_s: float) -> bool:
        """Wait until connected (True) or until the timeout (False)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._up.wait()
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        settings = self._settings
        where = f"{settings.host}:{settings.port}"
        failures = 0
        while not self._closing.is_set():
            problem: str | None = None
            level = logging.WARNING if failures == 0 else logging.INFO  # one warning per outage
            try:
                await self._connect_once()
            except _ConnectionLost:
                failures = 0
            except aiomqtt.MqttError as exc:
                problem = f"cannot reach the broker at {where}: {exc}"
            except SecretError as exc:
                problem, level = f"{exc}; cannot log in to {where}", logging.ERROR
            except (OSError, ssl.SSLError) as exc:
                problem, level = f"cannot set up TLS or the connection to {where}: {exc}", logging.ERROR
            except Exception:
                log.exception("MQTT: unexpected error in the connection loop")
                problem = "unexpected error"
            if self._closing.is_set():
                break
            delay = self._backoff.next_delay()
            if problem is not None:
                failures += 1
                log.log(level, "MQTT: %s; retrying in %.1f s", problem, delay)
            else:
                log.info("MQTT: reconnecting to %s in %.1f s", where, delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._closing.wait()

    async def _connect_once(self) -> None:
        client = self._make_client()
        try:
            async with client:
                self._backoff.reset()
                await self._session(client)
        finally:
            _consume_disconnect_reason(client)
            await self._mark_down()

    def _make_client(self) -> aiomqtt.Client:
        s = self._settings
        password = s.password.reveal() if s.password is not None else None
        return aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=password,
            identifier=self.client_id,
            will=aiomqtt.Will(self.availability_topic, OFFLINE, qos=1, retain=True),
            clean_session=True,
            keepalive=s.keepalive_s,
            timeout=self._connect_timeout_s,
            tls_context=tls_context(self._settings.tls),
            logger=_wire_log,
        )

    async def _session(self, client: aiomqtt.Client) -> None:
        async with self._state:
            self._client = client
            self._lost = asyncio.Event()
            self._active.clear()
            self._refused.clear()
            await self._subscribe_pending(client)
            self._connected = True
            self._up.set()
            self._state.notify_all()
        # announced only once commands are accepted, so whoever sees "online" can rely on it
        await self._bounded(client.publish(self.availability_topic, ONLINE, qos=1, retain=True, timeout=math.inf))
        log.info("MQTT: connected to %s:%d as %s", self._settings.host, self._settings.port, self.client_id)
        closing = False
        lost: BaseException | None = None
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._read(client), name="mqtt-read")
                group.create_task(self._subscriber(client), name="mqtt-subscribe")
                group.create_task(self._until_closing(), name="mqtt-until-closing")
        except* _Closing:
            closing = True
        except* aiomqtt.MqttError as errors:
            lost = errors.exceptions[0]
        if closing:
            self._connected = False
            with contextlib.suppress(aiomqtt.MqttError):
                await self._bounded(client.publish(self.availability_topic, OFFLINE, qos=1, retain=True,
                                                   timeout=math.inf))
            log.info("MQTT: disconnecting cleanly")
        elif lost is not None:
            log.warning("MQTT: connection lost: %s", lost.__cause__ or lost)
            raise _ConnectionLost from lost

    async def _bounded(self, call: Awaitable[T]) -> T:
        """Await an aiomqtt call given ``timeout=math.inf``, bounded here instead.

        aiomqtt's own timeouts use ``asyncio.wait_for``, which on Python 3.11 loses a cancellation
        that arrives in the same loop iteration as the reply (CPython gh-86296, fixed in 3.12). A
        lost cancellation during shutdown left a task waiting forever; ``asyncio.timeout`` does not
        have that flaw."""
        try:
            async with asyncio.timeout(self._publish_timeout_s):
                return await call
        except TimeoutError:
            raise aiomqtt.MqttError("the broker did not answer in time") from None

    async def _until_closing(self) -> None:
        await self._closing.wait()
        raise _Closing

    async def _read(self, client: aiomqtt.Client) -> None:
        try:
            async for message in client.messages:
                self._dispatch(message)
        except aiomqtt.MqttError:
            # mark the loss at once, so publishers racing with it fail fast
            self._connected = False
            self._up.clear()
            self._lost.set()
            raise

    async def _mark_down(self) -> None:
        self._connected = False
        self._up.clear()
        self._lost.set()
        self._client = None
        async with self._state:
            self._active.clear()
            self._state.notify_all()

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, topic_filter: str, handler: Handler | None = None) -> Subscription:
        """Register a filter (and a handler for its messages). Takes effect at once if connected
        (in the background) and again after every reconnect. Every message on a registered filter
        also updates the ``last()`` cache."""
        problem = filter_problem(topic_filter)
        if problem is not None:
            raise ValueError(f"cannot subscribe to {topic_filter!r}: {problem}")
        sub = Subscription(self, topic_filter, handler)
        if handler is not None:
            self._inbox.add_handler(topic_filter, handler)
        self._filters[topic_filter] = self._filters.get(topic_filter, 0) + 1
        if topic_filter not in self._active:
            self._want_subscribe.set()
        return sub

    async def ensure_subscribed(self, topic_filter: str, timeout_s: float | None = None) -> None:
        """Make sure the broker has acknowledged ``topic_filter`` on the current connection
        (registering it if needed), so that a following publish's echo cannot be missed."""
        if topic_filter not in self._filters:
            self.subscribe(topic_filter)
        if topic_filter in self._active:
            return
        if not self._connected:
            raise MqttUnavailable()

        def settled() -> bool:
            return topic_filter in self._active or topic_filter in self._refused or not self._connected

        try:
            async with asyncio.timeout(timeout_s or self._publish_timeout_s), self._state:
                await self._state.wait_for(settled)
        except TimeoutError:
            raise MqttUnavailable("The home's MQTT broker did not answer in time; nothing was sent.") from None
        if topic_filter in self._refused:
            raise MqttRefused(f"The MQTT broker refused the subscription to {topic_filter!r}; "
                              "nothing was sent.")
        if topic_filter not in self._active:
            raise MqttUnavailable()

    def _remove(self, sub: Subscription) -> None:
        if sub.handler is not None:
            self._inbox.remove_handler(sub.topic_filter, sub.handler)
        left = self._filters[sub.topic_filter] - 1
        if left:
            self._filters[sub.topic_filter] = left
        else:
            del self._filters[sub.topic_filter]

    async def _subscriber(self, client: aiomqtt.Client) -> None:
        while True:
            await self._want_subscribe.wait()
            if self._closing.is_set():
                return  # also woken by __aexit__, should a cancellation ever be lost
            self._want_subscribe.clear()
            async with self._state:
                await self._subscribe_pending(client)
                self._state.notify_all()

    async def _subscribe_pending(self, client: aiomqtt.Client) -> None:
        """Subscribe every registered filter the broker has not acknowledged yet (lock held)."""
        pending = [f for f in self._filters if f not in self._active and f not in self._refused]
        if not pending:
            return
        codes = await self._bounded(client.subscribe([(f, 0) for f in pending], timeout=math.inf))
        for topic_filter, code in zip(pending, codes, strict=False):
            failed = bool(code.is_failure) if isinstance(code, ReasonCode) else (isinstance(code, int) and code >= 0x80)
            if failed:
                log.warning("MQTT: the broker refused the subscription to %s", topic_filter)
                self._refused.add(topic_filter)
            else:
                self._active.add(topic_filter)
        log.debug("MQTT: subscribed to %d filter(s)", len(pending))

    # ------------------------------------------------------------------ incoming messages

    def _dispatch(self, raw: aiomqtt.Message) -> None:
        payload = raw.payload
        if isinstance(payload, (bytes, bytearray)):
            data = bytes(payload)
        elif payload is None:
            data = b""
        else:
            data = str(payload).encode("utf-8")
        self._inbox.deliver(MqttMessage(topic=raw.topic.value, payload=data, retain=bool(raw.retain),
                                        qos=int(raw.qos), received=asyncio.get_running_loop().time()))

    def last(self, topic: str) -> bytes | None:
        """The payload of the last message seen on ``topic`` (retained or live), if any."""
        message = self._inbox.last_message(topic)
        return message.payload if message is not None else None

    def last_message(self, topic: str) -> MqttMessage | None:
        """Like ``last`` but with the whole message (its arrival time, retain flag)."""
        return self._inbox.last_message(topic)

    def expect(self, topic: str, predicate: Predicate | None = None) -> asyncio.Future[MqttMessage]:
        """A future resolved by the next message on ``topic`` that satisfies ``predicate``.

        Registered immediately, so call it *before* publishing a command whose echo you want.
        Cancel the future when you stop caring. The topic must be subscribed."""
        return self._inbox.expect(topic, predicate)

    async def wait_for(self, topic: str, predicate: Predicate | None = None, timeout_s: float = 2.0, *,
                       include_last: bool = False) -> MqttMessage:
        """The next message on ``topic`` satisfying ``predicate`` (with ``include_last``, the cached
        one counts too). Raises ``TimeoutError`` when none arrives in time."""
        if include_last:
            cached = self._inbox.last_message(topic)
            if cached is not None and (predicate is None or predicate(cached.payload)):
                return cached
        future = self.expect(topic, predicate)
        try:
            async with asyncio.timeout(timeout_s):
                return await future
        finally:
            future.cancel()

    # ------------------------------------------------------------------ publishing

    async def publish(self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False, *,
                      timeout_s: float | None = None) -> None:
        """Publish one message. With qos 1 this returns once the broker's PUBACK arrived.

        Raises ``MqttUnavailable`` at once when not connected (nothing was sent), and
        ``MqttUncertain`` when the broker did not acknowledge in time or the connection dropped
        while waiting (it may have arrived). Both are ToolErrors written for the model."""
        problem = publish_topic_problem(topic)
        if problem is not None:
            raise ValueError(f"cannot publish to {topic!r}: {problem}")
        if qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        client = self._client
        if client is None or not self._connected:
            raise MqttUnavailable()
        data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        timeout = self._publish_timeout_s if timeout_s is None else timeout_s
        log.debug("MQTT: publish %s (%d bytes, qos %d%s)", topic, len(data), qos, ", retained" if retain else "")
        send = asyncio.ensure_future(client.publish(topic, data, qos=qos, retain=retain, timeout=math.inf))
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            done, _ = await asyncio.wait({send, lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (send, lost):
                task.cancel()
            await asyncio.gather(send, lost, return_exceptions=True)
        if send in done and not send.cancelled():
            error = send.exception()
            if error is None:
                return
            if isinstance(error, aiomqtt.MqttError):
                raise MqttUnavailable() from error
            raise error
        if lost in done:
            raise MqttUncertain("The connection to the home's MQTT broker dropped while sending; "
                                "the command may not have arrived.")
        raise MqttUncertain(f"The home's MQTT broker did not acknowledge the command within {timeout:g} s; "
                            "it may not have arrived.")


def _consume_disconnect_reason(client: aiomqtt.Client) -> None:
    """Read the reason aiomqtt stored for a dropped connection.

    aiomqtt keeps it in a future that only its message iterator reads. When another path notices
    the loss first (a subscribe or the goodbye publish failing), nobody reads it and asyncio logs
    "Future exception was never retrieved" at ERROR, which makes an ordinary outage look like a bug.
    """
    reason = getattr(client, "_disconnected", None)  # private in aiomqtt 2.x; absent: nothing to do
    if isinstance(reason, asyncio.Future) and reason.done() and not reason.cancelled():
        reason.exception()
