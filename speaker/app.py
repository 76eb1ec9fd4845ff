"""The composition root: builds the adapters from the settings and runs them. No conversation logic
lives here (that is ``speaker.core``), only wiring."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speaker.audio.factory import open_sink, open_source
from speaker.audio.ports import AudioSink, AudioSource
from speaker.audio.resample import StreamResampler
from speaker.config import LoadedConfig, Settings, check_secrets
from speaker.config.schema import TranscriptionSettings, WakeModelSettings
from speaker.core import actions as A
from speaker.core.conversation import Conversation, CoreConfig
from speaker.core.events import EndAfterReply
from speaker.errors import ConfigError, SecretError
from speaker.ha.service import DeviceService
from speaker.ha.wake import WakeFilter
from speaker.listen.frontend import FrontEnd
from speaker.mcp.bridge import McpBridge
from speaker.mcp.remote import McpEventHandler, session_mcp_tools
from speaker.mqtt.connection import MqttConnection
from speaker.realtime import events as rt
from speaker.realtime.cost import SessionLedger
from speaker.realtime.port import RealtimeSession
from speaker.realtime.reconnect import open_with_retry
from speaker.realtime.session_config import build_session
from speaker.runner import Observer, Runner, Sounds
from speaker.sounds import build_sounds
from speaker.system.sdnotify import Notifier
from speaker.system.signals import StopSignals
from speaker.timers.service import TimerService
from speaker.timers.tools import timer_tools
from speaker.tools.base import ToolRegistry
from speaker.tools.loader import build_tools
from speaker.vad.segmenter import SpeechSegmenter
from speaker.wake.factory import build_wake_engine

log = logging.getLogger(__name__)


class _Host:
    """What the built-in tools may do to the daemon: end the conversation, change the volume."""

    def __init__(self, sink: AudioSink) -> None:
        self._sink = sink
        self.runner: Runner | None = None
        self.device: DeviceService | None = None

    def end_conversation(self) -> None:
        if self.runner is not None:
            self.runner.dispatch(EndAfterReply())

    def set_volume(self, percent: int) -> None:
        if self.device is not None:
            self.device.set_volume(percent)  # remembered and published
        else:
            self._sink.set_volume(percent)

    def volume(self) -> int:
        return self._sink.volume


class LedgerObserver:
    """Keeps one cost ledger per session and logs a one-line summary when it ends."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.ledger: SessionLedger | None = None
        self.user_turns = 0
        self.last_summary: str | None = None
        self.sessions: list[tuple[SessionLedger, int]] = []
        """Each finished session's ledger and its number of user turns."""

    def action(self, action: A.Action, now: float) -> None:
        match action:
            case A.OpenSession():
                self.ledger = SessionLedger.for_settings(self._settings.realtime)
                self.user_turns = 0
            case A.SendEvent(event={"type": "input_audio_buffer.commit"}):
                self.user_turns += 1
            case A.AppendAudio(pcm=pcm) if self.ledger is not None:
                self.ledger.add_audio_sent(len(pcm) / 32000)
            case A.SetState(state=state) if state in ("idle", "error", "muted") and self.ledger is not None:
                self.ledger.close()
                self.sessions.append((self.ledger, self.user_turns))
                self.last_summary = self.ledger.summary_line(self.user_turns)
                log.info("%s", self.last_summary)
                self.ledger = None
            case _:
                pass

    def server_event(self, session: int, event: rt.RealtimeEvent, now: float) -> None:
        if self.ledger is None:
            return
        match event:
            case rt.ResponseDone():
                turn = self.ledger.record(event)
                log.info("reply %s %s: %d tokens, $%.4f", event.response_id, event.status,
                         event.usage.total, turn.cost)
            case rt.InputTranscript(seconds=seconds):
                self.ledger.add_transcription(seconds)
            case rt.ServerSpeechStopped():
                self.user_turns += 1  # server turn detection: the service ended a user turn
            case _:
                pass


class McpObserver:
    """Answers MCP approval requests per the YAML policy and logs MCP list/call outcomes."""

    def __init__(self, handler: McpEventHandler) -> None:
        self._handler = handler
        self.runner: Runner | None = None

    def action(self, action: A.Action, now: float) -> None:
        pass

    def server_event(self, session: int, event: rt.RealtimeEvent, now: float) -> None:
        if isinstance(event, rt.McpEvent) and self.runner is not None:
            reply = self._handler.handle(event)
            if reply is not None:
                self.runner.send(reply)


class StatusObserver:
    """Mirrors the visible state into systemd's STATUS= line."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    def action(self, action: A.Action, now: float) -> None:
        if isinstance(action, A.SetState):
            self._notifier.status({"idle": "listening for the wake word", "listening": "in conversation: listening",
                                   "thinking": "in conversation: thinking", "speaking": "in conversation: speaking",
                                   "error": "error: conversations unavailable (see the log)",
                                   "muted": "muted"}.get(action.state, action.state))

    def server_event(self, session: int, event: rt.RealtimeEvent, now: float) -> None:
        pass


@dataclass
class Speaker:
    """Everything assembled: call ``runner.run(source)``."""

    runner: Runner
    source: AudioSource
    sink: AudioSink
    tools: ToolRegistry
    mqtt: MqttConnection | None
    ledgers: LedgerObserver
    extras: dict[str, Any] = field(default_factory=dict)


def _wake_model(settings: Settings, name: str | None) -> WakeModelSettings | None:
    for model in settings.wake.models:
        if model.display_name == name:
            return model
    return None


@contextlib.asynccontextmanager
async def assemble(
    loaded: LoadedConfig,
    *,
    api_key: str,
    input_file: Path | None = None,
    output_file: Path | None = None,
    source: AudioSource | None = None,
    sink: AudioSink | None = None,
    observers: Sequence[Observer] = (),
    notifier: Notifier | None = None,
    tools_mqtt: MqttConnection | None = None,
) -> AsyncIterator[Speaker]:
    """Build every part from the settings; on exit close them in reverse order (MQTT publishes
    'offline', MCP bridges disconnect, audio devices are released). ``source``/``sink`` replace the
    configured audio; ``tools_mqtt`` serves the device tools when MQTT is disabled (a dry run)."""
    s = loaded.settings
    async with contextlib.AsyncExitStack() as stack:
        if sink is None:
            # resilient: the daemon starts (and listens) even when the speaker is missing at boot
            sink = await stack.enter_async_context(open_sink(s.audio.output, file=output_file, resilient=True))
        assert sink is not None
        mqtt: MqttConnection | None = None
        if s.mqtt.enabled:
            mqtt = await stack.enter_async_context(MqttConnection(s.mqtt))
        bridge: McpBridge | None = None
        if s.mcp.bridged:
            bridge = await stack.enter_async_context(McpBridge(s.mcp))
        host = _Host(sink)
        # tools_mqtt: a stand-in for the device tools when there is no broker (the demo's dry run)
        tools = build_tools(s, loaded.base_dir, mqtt if mqtt is not None else tools_mqtt, host)
        timers: TimerService | None = None
        if "timers" in s.tools.builtin:
            timers = TimerService(s.timers, s.state_dir / "timers.json")
            for tool in timer_tools(timers):
                if tool.spec.name in tools:
                    raise ConfigError(f"tool {tool.spec.name!r} is defined by a tool pack and by the timers "
                                      "built-in; rename it or remove 'timers' from tools.builtin")
                tools.add(tool)
        engine = WakeFilter(build_wake_engine(s.wake, loaded.base_dir))
        stack.callback(engine.close)
        frontend = FrontEnd(engine, SpeechSegmenter(s.vad), s.audio.preroll_ms)
        core = Conversation(CoreConfig.from_settings(s), sink)
        remote_mcp = session_mcp_tools(s.mcp)

        async def connect(request: A.OpenSession) -> RealtimeSession:
            if bridge is not None:
                # refreshed per session: bridged servers come and go
                for server in s.mcp.bridged:
                    tools.remove_prefix(f"{server.label}__")
                for tool in bridge.tools():
                    if tool.spec.name not in tools:
                        tools.add(tool)
            model = _wake_model(s, request.wake_model)
            realtime = s.realtime
            if request.transcribe and realtime.transcription is None:
                realtime = realtime.model_copy(update={"transcription": TranscriptionSettings()})
            extra = "\n\n".join(x for x in (model.instructions if model else None, request.instructions) if x)
            cfg = build_session(realtime, tools=tools.specs(), mcp_tools=remote_mcp,
                                voice=model.voice if model else None, extra_instructions=extra or None)
            return await open_with_retry(s.realtime, api_key, session=cfg, attempts=2)

        ledgers = LedgerObserver(s)
        mcp_observer = McpObserver(McpEventHandler(s.mcp))
        device = DeviceService(s, mqtt, sink, timers=timers, wake=engine)
        host.device = device
        all_observers: list[Observer] = [ledgers, mcp_observer, device.observer, *observers]
        if notifier is not None:
            all_observers.append(StatusObserver(notifier))
        runner = Runner(
            core, frontend, sink, connect, device.watch_tools(tools),
            make_resampler=lambda: StreamResampler(16000, 24000),
            preroll_ms=s.vad.pad_ms,
            sounds=Sounds(build_sounds(s.feedback, loaded.base_dir)),
            observers=all_observers,
            watchdog=notifier.watchdog if notifier is not None else None,
            watchdog_interval_s=notifier.watchdog_interval() if notifier is not None else None,
        )
        host.runner = runner
        mcp_observer.runner = runner
        device.attach(runner)
        await stack.enter_async_context(device)
        if timers is not None:
            await stack.enter_async_context(timers)  # after the device: missed timers are reported to it
        if source is None:
            source = open_source(s.audio.input, file=input_file)
        # MQTT commands dispatch into the runner: they wait until it runs (it opens the source then)
        source = device.signal_on_open(source)
        yield Speaker(runner=runner, source=source, sink=sink, tools=tools, mqtt=mqtt, ledgers=ledgers,
                      extras={"device": device, "timers": timers})


async def run_daemon(loaded: LoadedConfig, *, input_file: Path | None = None,
                     output_file: Path | None = None) -> int:
    """`speaker run`: until SIGTERM/SIGINT (graceful), or until a file input ends."""
    try:
        # the key and the broker password are needed; an MCP server whose token is missing is left out
        # (with a warning) rather than keeping the whole speaker down
        check_secrets(loaded, skip=["mcp"])
        api_key = loaded.settings.realtime.api_key.reveal()
    except (SecretError, ConfigError) as exc:
        log.error("%s", exc)
        return 2
    notifier = Notifier.from_environ(unset_environment=True)  # MCP stdio children must not inherit it
    with StopSignals(on_stop=lambda sig: notifier.stopping("stopping"), grace_s=4.5) as signals:
        async with assemble(loaded, api_key=api_key, input_file=input_file, output_file=output_file,
                            notifier=notifier) as speaker:
            if speaker.mqtt is not None:
                await speaker.mqtt.wait_connected(3.0)  # READY does not wait for a broker that is down
            notifier.ready("listening for the wake word")
            log.info("listening for %s", ", ".join(m.display_name for m in loaded.settings.wake.models))
            await speaker.runner.run(speaker.source, stop=signals.stop_requested)
        notifier.stopping("stopped")
    return 0

