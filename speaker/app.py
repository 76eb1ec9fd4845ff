"""The composition root: builds the adapters from the settings and runs them. No conversation logic
lives here (that is ``speaker.core``), only wiring."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from speaker.aec.duck import DuckingSink
from speaker.aec.factory import EchoChain, build_echo_chain
from speaker.aec.probe import EchoProbe
from speaker.aec.reference import ReferenceTap
from speaker.audio.factory import open_sink, open_source
from speaker.audio.ports import AudioSink, AudioSource
from speaker.audio.resample import StreamResampler
from speaker.backoff import Backoff
from speaker.config import LoadedConfig, Settings, check_secrets
from speaker.config.schema import TranscriptionSettings, WakeModelSettings
from speaker.core import actions as A
from speaker.core.config import CoreConfig
from speaker.core.conversation import Conversation
from speaker.core.events import CoreEvent, EndAfterReply
from speaker.device.controls import DeviceControls
from speaker.device.phrases import build_phrases
from speaker.device.sounds import build_sounds, seconds_of
from speaker.device.store import DeviceStore
from speaker.device.wake import WakeFilter
from speaker.errors import ConfigError, SecretError
from speaker.ha.discovery import wake_options
from speaker.ha.service import DeviceService
from speaker.hardware.board import Hardware
from speaker.listen.frontend import FrontEnd
from speaker.mcp.bridge import McpBridge
from speaker.mcp.remote import McpEventHandler, session_mcp_tools
from speaker.mqtt.connection import MqttConnection
from speaker.observers import LogObserver, StatusObserver
from speaker.realtime.cost import PriceTable
from speaker.realtime.port import RealtimeSession
from speaker.realtime.reconnect import open_with_retry
from speaker.realtime.session_config import build_session
from speaker.rooms.port import RoomsPort
from speaker.runner import Inbox, Observer, Runner
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
    """What the built-in tools may do to the daemon: end the conversation (posted to the core), change
    the volume (the device remembers and publishes it)."""

    def __init__(self, device: DeviceService, post: Callable[[CoreEvent], None]) -> None:
        self._device = device
        self._post = post

    def end_conversation(self) -> None:
        self._post(EndAfterReply())

    def set_volume(self, percent: int) -> None:
        self._device.set_volume(percent)

    def volume(self) -> int:
        return self._device.controls.volume


@dataclass
class Speaker:
    """Everything assembled: call ``runner.run(source)``."""

    runner: Runner
    source: AudioSource
    sink: AudioSink
    tools: ToolRegistry
    mqtt: MqttConnection | None
    log: LogObserver
    device: DeviceService
    timers: TimerService | None
    rooms: RoomsPort | None = None


def core_config(s: Settings, sounds: dict[str, bytes], *, tools: ToolRegistry | None = None) -> CoreConfig:
    """The core's plain settings, from the validated YAML (the core itself imports no pydantic)."""
    td = s.realtime.turn_detection
    local = td.type == "local"
    silence = td.silence_duration_ms if td.type == "server_vad" else 500
    return CoreConfig(
        local_turns=local, server_silence_ms=silence, barge_in=s.conversation.barge_in,
        follow_up_s=s.conversation.follow_up_s, idle_close_s=s.conversation.idle_close_s,
        echo_tail_s=s.conversation.echo_tail_ms / 1000, no_speech_timeout_s=s.vad.no_speech_timeout_s,
        max_turn_s=s.vad.max_turn_s, max_session_s=s.conversation.max_session_s,
        response_timeout_s=s.conversation.response_timeout_s, pad_ms=s.vad.pad_ms,
        preroll_ms=s.audio.preroll_ms, hold_ms=s.vad.hangover_ms + s.vad.frame_ms,
        # the server's VAD needs to hear its silence; ours needs only a breath of it
        tail_ms=60 if local else silence + 200,
        sound_s={name: seconds_of(pcm) for name, pcm in sounds.items()},
        thinking_after_s=s.feedback.thinking_after_s, timer_max_ring_s=s.timers.max_ring_s,
        pricing=PriceTable.for_settings(s.realtime),
        daily_usd=s.cost.daily_usd, monthly_usd=s.cost.monthly_usd, session_usd=s.cost.session_usd,
        arbitrate=s.mqtt.enabled and s.rooms.enabled, takeover_s=s.rooms.takeover_s,
        announce_when_muted=s.home.announce_when_muted,
        barge_in_margin_db=s.echo.barge_in_margin_db, barge_in_warmup_ms=s.echo.barge_in_warmup_ms,
        duck_db=s.echo.duck_db, memory_s=s.conversation.memory_s,
        fatal_retry_s=s.conversation.retry_refused_s,
        confirm_tools={t.name: t.question for t in (tools.specs() if tools is not None else ()) if t.confirm},
        confirm_language=(s.realtime.transcription.language if s.realtime.transcription else None) or "en",
        mcp_asks=any(McpEventHandler.asks(server) for server in s.mcp.remote),
    )


def _echo_chain(s: Settings) -> EchoChain | None:
    try:
        return build_echo_chain(s.echo, input_device=s.audio.input.device)
    except (ImportError, OSError) as exc:  # no engine on this platform: half duplex, as before
        log.warning("echo cancellation unavailable (%s); the speaker stays half duplex", exc)
        return None


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
    acoustic: bool | None = None,
) -> AsyncIterator[Speaker]:
    """Build every part from the settings, in one straight line (the inbound queue first; nothing is
    wired in after it is built); on exit close them in reverse order (MQTT publishes 'offline', MCP
    bridges disconnect, audio devices are released). ``source``/``sink`` replace the configured audio;
    ``tools_mqtt`` serves the device tools when MQTT is disabled (a dry run). ``acoustic`` says whether
    the speaker is heard by the microphone (echo cancellation): None = when both are devices; True for
    a given source and sink joined by a room (the simulated room of the tests and the bench)."""
    s = loaded.settings
    inbox: Inbox = asyncio.Queue()
    post = inbox.put_nowait
    async with contextlib.AsyncExitStack() as stack:
        # echo cancellation where there is a room between speaker and microphone (devices, not files)
        if acoustic is None:
            acoustic = source is None and sink is None and input_file is None and output_file is None \
                and s.audio.input.file is None and s.audio.output.file is None
        echo = _echo_chain(s) if acoustic else None
        tap: ReferenceTap | None = None
        if sink is None:
            # resilient: the daemon starts (and listens) even when the speaker is missing at boot
            device_sink = open_sink(s.audio.output, file=output_file, resilient=True)
            if echo is not None:  # the canceller's reference is exactly what is played, after volume
                device_sink = tap = echo.tap(device_sink)
            sink = await stack.enter_async_context(device_sink)
        elif echo is not None:
            sink = tap = await stack.enter_async_context(echo.tap(sink))
        assert sink is not None
        if echo is not None and s.echo.duck_db > 0:  # the core lowers a reply someone talks over
            sink = DuckingSink(sink, s.echo.duck_db)
        mqtt: MqttConnection | None = None
        if s.mqtt.enabled:
            mqtt = await stack.enter_async_context(MqttConnection(s.mqtt))
        bridge: McpBridge | None = None
        if s.mcp.bridged:
            bridge = await stack.enter_async_context(McpBridge(s.mcp))
        engine = WakeFilter(build_wake_engine(s.wake, loaded.base_dir))
        stack.callback(engine.close)
        controls = DeviceControls(DeviceStore(s.state_dir / "device.json"), sink, engine, wake_options(s))
        device = DeviceService(s, mqtt, controls, post)
        rooms: RoomsPort | None = None
        if mqtt is not None and s.rooms.enabled:  # several speakers, one answer (a lone one never waits)
            rooms = await stack.enter_async_context(RoomsPort(mqtt, s, post, controls.store))
        # tools_mqtt: a stand-in for the device tools when there is no broker (the demo's dry run)
        tools = build_tools(s, loaded.base_dir, mqtt if mqtt is not None else tools_mqtt, _Host(device, post))
        timers: TimerService | None = None
        if "timers" in s.tools.builtin:
            timers = TimerService(s.timers, s.state_dir / "timers.json", listeners=[device], post=post)
            for tool in timer_tools(timers):
                if tool.spec.name in tools:
                    raise ConfigError(f"tool {tool.spec.name!r} is defined by a tool pack and by the timers "
                                      "built-in; rename it or remove 'timers' from tools.builtin")
                tools.add(tool)
        log.info("tools: %d offered (%s)", len(tools), ", ".join(spec.name for spec in tools.specs()))
        sounds = {**build_sounds(s.feedback, loaded.base_dir), **build_phrases(s.feedback)}
        core = Conversation(core_config(s, sounds, tools=tools), mcp=McpEventHandler(s.mcp))
        remote_mcp = session_mcp_tools(s.mcp)
        backoff = Backoff()  # one for the endpoint: consecutive failed conversations wait longer

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
            return await open_with_retry(s.realtime, api_key, session=cfg, attempts=2, backoff=backoff)

        log_observer = LogObserver()
        # the HAT's LEDs show the state, its button posts stop/mute (hardware.board: none touches nothing)
        hardware = Hardware(s.hardware, post, lambda: controls.muted)
        all_observers: list[Observer] = [log_observer, device.observer, hardware, *observers]
        if notifier is not None:
            all_observers.append(StatusObserver(notifier))
        runner = Runner(
            core, FrontEnd(engine, SpeechSegmenter(s.vad)), sink, connect, tools, inbox,
            make_resampler=lambda: StreamResampler(16000, 24000),
            sounds=sounds, timers=timers, observers=all_observers,
            watchdog=notifier.watchdog if notifier is not None else None,
            watchdog_interval_s=notifier.watchdog_interval() if notifier is not None else None,
            rooms=rooms,
            echo=EchoProbe(echo, "no echo cancellation in the daemon" if acoustic else "no acoustic path"),
        )
        await stack.enter_async_context(device)
        await stack.enter_async_context(hardware)
        if timers is not None:
            await stack.enter_async_context(timers)  # after the device: missed timers are reported to it
        if source is None:
            source = open_source(s.audio.input, file=input_file)
        if echo is not None:  # the wake word, the VAD and the uplink all hear the cancelled signal
            source = echo.source(source, tap)
        # MQTT commands are taken once the runner runs (it opens the source then)
        source = device.signal_on_open(source)
        yield Speaker(runner=runner, source=source, sink=sink, tools=tools, mqtt=mqtt, log=log_observer,
                      device=device, timers=timers, rooms=rooms)


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

