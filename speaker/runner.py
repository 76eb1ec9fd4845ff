"""The runtime around the conversation core: it pumps microphone frames through the front end, feeds
every event to the core, and carries out the actions the core returns — on one event loop, with every
task named and owned by one TaskGroup.

Nothing here decides anything about the conversation; that is ``speaker.core``'s job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from speaker.audio.format import REALTIME
from speaker.audio.ports import AudioSink, AudioSource
from speaker.core import actions as A
from speaker.core.conversation import Conversation, Phase
from speaker.core.events import (
    CoreEvent,
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
from speaker.errors import RealtimeError
from speaker.listen.events import WakeDetected
from speaker.realtime import events as rt
from speaker.realtime.port import RealtimeSession

log = logging.getLogger(__name__)

TICK_S = 0.05


Connect = Callable[[A.OpenSession], Awaitable[RealtimeSession]]
"""Open and configure the session the core asked for: a connection that has been sent its session.update.
Raises RealtimeError."""


class FrontEndLike(Protocol):
    wake_enabled: bool
    vad_enabled: bool

    @property
    def time(self) -> float: ...

    def process(self, frame: bytes) -> list[Any]: ...

    def recent(self, ms: int) -> bytes: ...

    def reset_vad(self) -> None: ...


class Resampler(Protocol):
    def process(self, pcm: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


class ToolRunner(Protocol):
    async def execute(self, name: str, arguments: str) -> Any: ...


class Observer(Protocol):
    """Sees every action and server event (MQTT state/events, the demo timeline, sd_notify status)."""

    def action(self, action: A.Action, now: float) -> None: ...

    def server_event(self, session: int, event: rt.RealtimeEvent, now: float) -> None: ...


@dataclass
class Sounds:
    """Feedback sounds by name (24 kHz pcm). Missing names are silent."""

    table: dict[str, bytes]

    def get(self, name: str) -> bytes | None:
        return self.table.get(name)


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
        *,
        make_resampler: Callable[[], Resampler],
        preroll_ms: int = 300,
        sounds: Sounds | None = None,
        observers: list[Observer] | None = None,
        clock: Callable[[], float] = time.monotonic,
        watchdog: Callable[[], None] | None = None,
        watchdog_interval_s: float | None = None,
    ) -> None:
        self.core = core
        self.frontend = frontend
        self.sink = sink
        self._connect = connect
        self._tools = tools
        self._make_resampler = make_resampler
        self._preroll_ms = preroll_ms
        self._sounds = sounds or Sounds({})
        self.observers = list(observers or [])
        self._clock = clock
        self._watchdog = watchdog
        self._watchdog_interval = watchdog_interval_s
        self._last_watchdog = 0.0
        self._tg: asyncio.TaskGroup | None = None
        self._owned: set[asyncio.Task[Any]] = set()
        self._conn: RealtimeSession | None = None
        self._conn_session = 0
        self._resampler: Resampler | None = None
        self._closing: set[int] = set()
        self._input_ended = False
        self._stop = asyncio.Event()
        self._deaf: list[tuple[float, float]] = []
        """Clock intervals while our own feedback sound (plus its echo) reaches the microphone."""

    # ------------------------------------------------------------------ lifecycle

    async def run(self, source: AudioSource, *, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (graceful: the conversation is ended and the session closed with a
        normal close), or until a finite input has ended and the conversation is idle again."""
        outer_stop = stop or asyncio.Event()
        self.frontend.vad_enabled = False
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            self._spawn(self._mic_loop(source), "mic")
            self._spawn(self._ticker(), "ticker")
            stop_wait = tg.create_task(outer_stop.wait(), name="speaker:stop-signal")
            end_wait = tg.create_task(self._stop.wait(), name="speaker:input-ended")
            await asyncio.wait({stop_wait, end_wait}, return_when=asyncio.FIRST_COMPLETED)
            await self.shutdown()
            for task in [*self._owned, stop_wait, end_wait]:
                task.cancel()
        self._tg = None

    async def shutdown(self, close_within_s: float = 3.0) -> None:
        """End the conversation now and close the session with a normal close."""
        self.dispatch(Stop("shutdown"))
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), close_within_s)
        self.sink.clear()

    def send(self, event: dict[str, Any]) -> None:
        """Send a client event on the open session (used by the MCP approval handler)."""
        if self._conn is not None:
            self._conn.send(event)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        assert self._tg is not None, "runner is not running"
        task = self._tg.create_task(coro, name=f"speaker:{name}")
        self._owned.add(task)
        task.add_done_callback(self._owned.discard)

    # ------------------------------------------------------------------ inputs

    def dispatch(self, event: CoreEvent) -> None:
        """Feed one event to the core and carry out its actions, right away."""
        now = self._clock()
        for action in self.core.handle(event, now):
            self._do(action, now)
        self._update_listening()
        if self._input_ended and self.core.phase in (Phase.IDLE, Phase.DISABLED):
            self._stop.set()

    async def _mic_loop(self, source: AudioSource) -> None:
        async with source:
            async for frame in source.frames():
                # our own chime must never fire the wake word or reach the session as speech; silence
                # (not dropping) keeps stream time and the pre-roll consistent
                frame = self._blank_if_deaf(frame)
                events = self.frontend.process(frame)
                t = self.frontend.time
                self.dispatch(MicFrame(frame, t))
                for ev in events:
                    if isinstance(ev, WakeDetected):
                        self.dispatch(Wake(ev.model, ev.score, ev.t, self.frontend.recent(self._preroll_ms)))
                    else:
                        self.dispatch(ev)
                self._ping_watchdog()
        log.info("audio input ended")
        self._input_ended = True
        if self.core.phase in (Phase.IDLE, Phase.DISABLED):
            self._stop.set()

    def _blank_if_deaf(self, frame: bytes) -> bytes:
        if not self._deaf:
            return frame
        now = self._clock()
        self._deaf = [(start, end) for start, end in self._deaf if end > now]
        if any(start <= now for start, _ in self._deaf):
            return bytes(len(frame))
        return frame

    def play_sound(self, name: str, *, blank_mic: bool = True) -> float:
        """Play a feedback sound (after whatever is queued for the speaker); return its length in seconds
        (0 when the sound is disabled). With ``blank_mic`` the microphone frames are replaced by silence
        from when it starts until the echo tail after it ends. The timer ring passes False: the wake word
        must stay able to stop it."""
        sound = self._sounds.get(name)
        if not sound:
            return 0.0
        now = self._clock()
        ahead_s = max(self.sink.written_ms - self.sink.played_ms, 0.0) / 1000
        self.sink.write(sound)
        seconds = len(sound) / REALTIME.bytes_per_second
        if blank_mic:
            start = now + ahead_s
            self._deaf.append((start, start + seconds + self.core.cfg.echo_tail_s))
        return seconds

    def _ping_watchdog(self) -> None:
        if self._watchdog is None or self._watchdog_interval is None:
            return
        now = time.monotonic()
        if now - self._last_watchdog >= self._watchdog_interval:
            self._last_watchdog = now
            self._watchdog()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.dispatch(Tick())
            if self._input_ended:
                self._ping_watchdog()

    def _update_listening(self) -> None:
        """The VAD only runs while a conversation is open; the wake word unless muted."""
        active = self.core.phase not in (Phase.IDLE, Phase.DISABLED)
        if active and not self.frontend.vad_enabled:
            self.frontend.reset_vad()
        self.frontend.vad_enabled = active
        self.frontend.wake_enabled = not self.core.muted

    # ------------------------------------------------------------------ actions

    def _do(self, action: A.Action, now: float) -> None:
        for obs in self.observers:
            obs.action(action, now)
        match action:
            case A.AppendAudio(pcm=pcm, final=final):
                self._append(pcm, final)
            case A.SendEvent(event=event):
                if self._conn is not None:
                    self._conn.send(event)
            case A.Play(pcm=pcm):
                self.sink.write(pcm)
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
            case A.ResetVad():
                self.frontend.reset_vad()
            case A.PlaySound(name=name):
                self.play_sound(name)
            case A.SetState(state=state):
                log.info("state: %s", state)
            case A.Notify(kind=kind, data=data):
                log.debug("event %s %s", kind, data)

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
        self.dispatch(PlaybackDrained(token))

    async def _run_tool(self, call_id: str, name: str, arguments: str) -> None:
        outcome = await self._tools.execute(name, arguments)
        self.dispatch(ToolFinished(call_id, outcome.output, outcome.ok))

    async def _session(self, request: A.OpenSession) -> None:
        sid = request.session
        started = time.monotonic()
        try:
            conn = await self._connect(request)
        except RealtimeError as exc:
            self.dispatch(SessionFailed(sid, exc))
            return
        except Exception as exc:  # a bug or a bad session config: fail this conversation, not the daemon
            log.exception("opening the Realtime session failed")
            self.dispatch(SessionFailed(sid, RealtimeError(f"{type(exc).__name__}: {exc}", code="internal")))
            return
        if sid in self._closing or sid != self.core.session:
            await conn.close()  # the conversation was abandoned while we connected
            return
        self._conn, self._conn_session, self._resampler = conn, sid, None
        log.info("Realtime session %d open in %.0f ms", sid, (time.monotonic() - started) * 1000)
        self.dispatch(SessionReady(sid))
        try:
            async for ev in conn.events():
                now = self._clock()
                for obs in self.observers:
                    obs.server_event(sid, ev, now)
                self.dispatch(ServerEvent(sid, ev))
        except RealtimeError as exc:
            self.dispatch(SessionFailed(sid, exc))
        else:
            self.dispatch(SessionClosed(sid))
        finally:
            if self._conn is conn:
                self._conn = None
            with contextlib.suppress(Exception):
                await conn.close()

