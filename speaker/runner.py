"""The runtime around the conversation core: one inbound queue of typed events, one consumer that feeds
them to the core, and an interpreter for the actions the core returns — on one event loop, with every
task named and owned by one TaskGroup.

Nothing here decides anything about the conversation; that is ``speaker.core``'s job. Everything that
happens (microphone frames, the Realtime session's events, tool results, playback, MQTT commands,
timers, the clock) is *posted* to the queue; nothing calls into the core from outside the consumer,
so no handler ever re-enters it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, runtime_checkable

from speaker.audio.ports import AudioSink, AudioSource
from speaker.core import actions as A
from speaker.core.conversation import Conversation, Step
from speaker.core.events import (
    Arbitrated,
    CoreEvent,
    EchoLevels,
    EchoStatus,
    MicFrame,
    PlaybackDrained,
    ServerEvent,
    SessionClosed,
    SessionFailed,
    SessionReady,
    Stop,
    Tick,
    ToolFinished,
    Wake,
)
from speaker.core.outputs import Output
from speaker.errors import RealtimeError
from speaker.listen.events import WakeDetected
from speaker.realtime.port import RealtimeSession

log = logging.getLogger(__name__)

TICK_S = 0.05
MIC = 16000 * 2
"""Bytes per second of microphone audio (16 kHz mono s16le)."""

Connect = Callable[[A.OpenSession], Awaitable[RealtimeSession]]
"""Open and configure the session the core asked for: a connection that has been sent its session.update.
Raises RealtimeError."""

Inbox = asyncio.Queue[CoreEvent]
"""The one inbound queue: created first, every source posts to it."""


class FrontEndLike(Protocol):
    wake_enabled: bool
    vad_enabled: bool

    def process(self, frame: bytes, ear: bytes | None = None) -> list[Any]: ...

    def reset_vad(self) -> None: ...


class Resampler(Protocol):
    def process(self, pcm: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


class ToolRunner(Protocol):
    async def execute(self, name: str, arguments: str) -> Any: ...


class TimerControl(Protocol):
    def dismiss(self, reason: str) -> bool: ...


class Rooms(Protocol):
    """Multi-room arbitration (``speaker.rooms.port.RoomsPort``): posts ``Arbitrated`` for a claim."""

    def claim(self, action: A.Claim) -> None: ...

    def release(self, wake_id: str) -> None: ...


class EchoProbe(Protocol):
    """The echo chain as the core learns of it (``speaker.aec.probe``)."""

    def levels(self) -> EchoLevels | None: ...

    def ear(self) -> bytes | None: ...

    def status(self) -> EchoStatus: ...


@runtime_checkable
class Ducking(Protocol):
    def duck(self, on: bool) -> None: ...


STATUS_EVERY = MIC
"""Bytes of microphone audio between two echo verdicts posted to the core (one second)."""


class Observer(Protocol):
    """Sees every step the core returns, actions and outputs (MQTT state/events, the log, the demo's
    timeline, sd_notify status, benches), after the runner carried it out."""

    def observe(self, step: Step, now: float) -> None: ...


class Runner:
    """Carries out the core's actions. ``run`` returns when asked to stop, or when a file input has
    ended and the conversation has gone idle."""

    def __init__(
        self,
        core: Conversation,
        frontend: FrontEndLike,
        sink: AudioSink,
        connect: Connect,
        tools: ToolRunner,
        inbox: Inbox,
        *,
        make_resampler: Callable[[], Resampler],
        sounds: dict[str, bytes] | None = None,
        timers: TimerControl | None = None,
        observers: list[Observer] | None = None,
        clock: Callable[[], float] = time.monotonic,
        watchdog: Callable[[], None] | None = None,
        watchdog_interval_s: float | None = None,
        rooms: Rooms | None = None,
        echo: EchoProbe | None = None,
    ) -> None:
        self.core = core
        self.frontend = frontend
        self.sink = sink
        self.inbox = inbox
        self._connect = connect
        self._tools = tools
        self._make_resampler = make_resampler
        self._sounds = sounds or {}
        self._timers = timers
        self.observers = list(observers or [])
        self._clock = clock
        self._watchdog = watchdog
        self._watchdog_interval = watchdog_interval_s
        self._last_watchdog = -1e9
        self._tg: asyncio.TaskGroup | None = None
        self._owned: set[asyncio.Task[Any]] = set()
        self._conn: RealtimeSession | None = None
        self._conn_session = 0
        self._resampler: Resampler | None = None
        self._closing: set[int] = set()
        self._input_ended = False
        self._finished = asyncio.Event()
        self._stream_bytes = 0
        self._blank = False
        self._rooms = rooms
        self._echo = echo

    # ------------------------------------------------------------------ lifecycle

    async def run(self, source: AudioSource, *, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (graceful: the conversation is ended and the session closed with a
        normal close), or until a finite input has ended and the conversation is idle again."""
        outer_stop = stop or asyncio.Event()
        self.frontend.vad_enabled = False
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            sources = [tg.create_task(self._consume(), name="speaker:core"),
                       tg.create_task(self._mic_loop(source), name="speaker:mic"),
                       tg.create_task(self._ticker(), name="speaker:ticker")]
            stop_wait = tg.create_task(outer_stop.wait(), name="speaker:stop-signal")
            end_wait = tg.create_task(self._finished.wait(), name="speaker:input-ended")
            await asyncio.wait({stop_wait, end_wait}, return_when=asyncio.FIRST_COMPLETED)
            for task in sources:  # nothing more is heard or handled; the core is ours alone now
                task.cancel()
            await asyncio.wait(sources)
            await self.shutdown()
            for task in [*self._owned, stop_wait, end_wait]:
                task.cancel()
        self._tg = None

    async def shutdown(self, close_within_s: float = 3.0) -> None:
        """End the conversation now and close the session with a normal close."""
        self._handle(Stop("shutdown", timers=False))
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), close_within_s)
        self.sink.clear()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        assert self._tg is not None, "runner is not running"
        task = self._tg.create_task(coro, name=f"speaker:{name}")
        self._owned.add(task)
        task.add_done_callback(self._owned.discard)

    def _post(self, event: CoreEvent) -> None:
        self.inbox.put_nowait(event)

    # ------------------------------------------------------------------ the consumer

    async def _consume(self) -> None:
        while True:
            event = await self.inbox.get()
            self._handle(event)
            if isinstance(event, MicFrame):
                self._listen(event.pcm, event.ear)
            elif isinstance(event, Tick):
                self._ping_watchdog()
            if self._input_ended and self.inbox.empty() and self.core.quiet:
                self._finished.set()

    def _handle(self, event: CoreEvent) -> None:
        """Feed one event to the core and carry out what it returns, in order."""
        now = self._clock()
        for step in self.core.handle(event, now):
            if not isinstance(step, Output):
                self._do(step)
            for obs in self.observers:
                obs.observe(step, now)

    def _listen(self, frame: bytes, ear: bytes | None) -> None:
        """The frame just handled goes through the wake word and the VAD, as the core set them."""
        if self._blank:
            frame, ear = bytes(len(frame)), None
        for ev in self.frontend.process(frame, ear):
            self._handle(Wake(ev.model, ev.score, ev.t) if isinstance(ev, WakeDetected) else ev)

    # ------------------------------------------------------------------ sources

    async def _mic_loop(self, source: AudioSource) -> None:
        echo = self._echo
        if echo is not None:
            self._post(echo.status())
        async with source:
            async for frame in source.frames():
                self._stream_bytes += len(frame)
                levels, ear = (echo.levels(), echo.ear()) if echo is not None else (None, None)
                self._post(MicFrame(frame, (self._stream_bytes // 2) / 16000, self.sink.played_ms, levels, ear))
                if echo is not None and self._stream_bytes % STATUS_EVERY < len(frame):
                    self._post(echo.status())  # the echo monitor's verdict, once a second of audio
        log.info("audio input ended")
        self._input_ended = True
        self._post(Tick(self.sink.played_ms))

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self._post(Tick(self.sink.played_ms))

    def _ping_watchdog(self) -> None:
        """systemd's watchdog is told the loop and the core are alive (every tick is handled). A stalled
        microphone is the audio adapter's to recover; it does not restart the daemon."""
        if self._watchdog is None or self._watchdog_interval is None:
            return
        now = time.monotonic()
        if now - self._last_watchdog >= self._watchdog_interval:
            self._last_watchdog = now
            self._watchdog()

    # ------------------------------------------------------------------ actions

    def _do(self, action: A.Action) -> None:
        match action:
            case A.AppendAudio(pcm=pcm, final=final):
                self._append(pcm, final)
            case A.SendEvent(event=event):
                if self._conn is not None:
                    self._conn.send(event)
            case A.Play(pcm=pcm):
                self.sink.write(pcm)
            case A.PlaySound(name=name):
                sound = self._sounds.get(name)
                if sound:
                    self.sink.write(sound)
            case A.StopPlayback():
                self.sink.clear()
            case A.AwaitPlayback(token=token):
                self._spawn(self._await_playback(token), f"drain-{token}")
            case A.RunTool(call_id=call_id, name=name, arguments=arguments):
                self._spawn(self._run_tool(call_id, name, arguments), f"tool-{call_id}")
            case A.OpenSession(session=sid):
                self._spawn(self._session(action), f"session-{sid}")
            case A.CloseSession(session=sid, reason=reason):
                log.info("closing the Realtime session (%s)", reason)
                self._closing.add(sid)
                conn = self._conn if self._conn_session == sid else None
                if conn is not None:
                    self._spawn(conn.close(), f"close-{sid}")
            case A.Listen(wake=wake, vad=vad, blank=blank):
                if vad and not self.frontend.vad_enabled:
                    self.frontend.reset_vad()
                self.frontend.vad_enabled = vad
                self.frontend.wake_enabled = wake
                self._blank = blank
            case A.ResetVad():
                self.frontend.reset_vad()
            case A.DismissTimers(reason=reason):
                if self._timers is not None:
                    self._timers.dismiss(reason)
            case A.Claim(wake_id=wake_id):
                if self._rooms is not None:
                    self._rooms.claim(action)
                else:  # nobody to arbitrate with: answer
                    self._post(Arbitrated(wake_id, proceed=True))
            case A.Release(wake_id=wake_id):
                if self._rooms is not None:
                    self._rooms.release(wake_id)
            case A.Duck(on=on):
                if isinstance(self.sink, Ducking):
                    self.sink.duck(on)

    def _append(self, pcm: bytes, final: bool) -> None:
        conn = self._conn
        if conn is None or self._conn_session != self.core.session:
            return
        if self._resampler is None:
            self._resampler = self._make_resampler()
        out = self._resampler.process(pcm) if pcm else b""
        if final:
            out += self._resampler.flush()
            self._resampler = None
        if out:
            conn.append_audio(out)

    async def _await_playback(self, token: int) -> None:
        try:
            await self.sink.drain()
        except Exception:  # a speaker that failed mid-reply must not end the daemon
            log.exception("waiting for playback failed; carrying on as if it had finished")
        self._post(PlaybackDrained(token, self.sink.played_ms))

    async def _run_tool(self, call_id: str, name: str, arguments: str) -> None:
        outcome = await self._tools.execute(name, arguments)
        self._post(ToolFinished(call_id, outcome.output, outcome.ok))

    async def _session(self, request: A.OpenSession) -> None:
        sid = request.session
        started = time.monotonic()
        try:
            conn = await self._connect(request)
        except RealtimeError as exc:
            self._post(SessionFailed(sid, exc))
            return
        except Exception as exc:  # a bug or a bad session config: fail this conversation, not the daemon
            log.exception("opening the Realtime session failed")
            self._post(SessionFailed(sid, RealtimeError(f"{type(exc).__name__}: {exc}", code="internal")))
            return
        if sid in self._closing or sid != self.core.session:
            await conn.close()  # the conversation was abandoned while we connected
            return
        self._conn, self._conn_session, self._resampler = conn, sid, None
        log.info("Realtime session %d open in %.0f ms", sid, (time.monotonic() - started) * 1000)
        self._post(SessionReady(sid))
        try:
            async for ev in conn.events():
                self._post(ServerEvent(sid, ev))
        except RealtimeError as exc:
            self._post(SessionFailed(sid, exc))
        else:
            self._post(SessionClosed(sid))
        finally:
            if self._conn is conn:
                self._conn = None
            with contextlib.suppress(Exception):
                await conn.close()
