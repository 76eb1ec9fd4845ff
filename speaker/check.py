"""`speaker check`: is this speaker ready? One line per check with OK/FAIL/SKIP and a hint; the exit
code is non-zero when anything failed. Also shows the effective config (secrets masked), the tools the
model will see and the session it will get."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from speaker.config import LoadedConfig, Settings, masked_dump
from speaker.errors import SpeakerError

# pipewire-alsa makes ALSA's `default` (and adds `pipewire`) the PipeWire server of the calling user
PIPEWIRE_ALSA_CONFS = (Path("/etc/alsa/conf.d/99-pipewire-default.conf"),
                       Path("/usr/share/alsa/alsa.conf.d/99-pipewire-default.conf"))


@dataclass
class Result:
    name: str
    status: str  # OK FAIL SKIP
    detail: str
    hint: str = ""


class Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.results: list[Result] = []

    def add(self, name: str, status: str, detail: str, hint: str = "") -> None:
        self.results.append(Result(name, status, detail, hint))
        line = f"{status:<4} {name:<14} {detail}"
        if hint and status != "OK":
            line += f"\n     {'':<14} hint: {hint}"
        print(line, file=self.out, flush=True)

    @property
    def failed(self) -> bool:
        return any(r.status == "FAIL" for r in self.results)


def run_check(loaded: LoadedConfig, args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out  # looked up now, not at import: tests capture it
    if getattr(args, "json", False):
        print(json.dumps(masked_dump(loaded.settings), indent=2), file=out)
        return 0
    return asyncio.run(_check(loaded, offline=getattr(args, "offline", False), out=out,
                              input_file=getattr(args, "input_file", None)))


async def _timed(coro: Awaitable[Any], seconds: float) -> Any:
    async with asyncio.timeout(seconds):
        return await coro


async def _check(loaded: LoadedConfig, *, offline: bool, out: TextIO, input_file: Path | None = None) -> int:
    s = loaded.settings
    report = Report(out)
    report.add("config", "OK", ", ".join(str(f) for f in loaded.files) or "(defaults)")
    _last_refusal(s, report)

    # secrets: --offline skips what needs them, so a missing one is a SKIP there, not a failure
    missing = "SKIP" if offline else "FAIL"
    later = " (needed once online; --offline)" if offline else ""
    api_key: str | None = None
    try:
        api_key = s.realtime.api_key.reveal()
        report.add("api key", "OK", f"from {s.realtime.api_key.source}")
    except SpeakerError as exc:
        report.add("api key", missing, f"{exc}{later}",
                   "put OPENAI_API_KEY=... in /etc/speaker/secrets.env (mode 0600)")
    if s.mqtt.password is not None:
        try:
            s.mqtt.password.reveal()
            report.add("mqtt secret", "OK", f"from {s.mqtt.password.source}")
        except SpeakerError as exc:
            report.add("mqtt secret", missing, f"{exc}{later}", "set the MQTT password variable or file")

    # wake models
    try:
        from speaker.wake.factory import build_wake_engine

        engine = build_wake_engine(s.wake, loaded.base_dir)
        engine.close()
        report.add("wake word", "OK", f"{s.wake.engine}: {', '.join(m.display_name for m in s.wake.models)}")
    except Exception as exc:  # a broken model file must be reported, whatever the library raises
        report.add("wake word", "FAIL", f"{type(exc).__name__}: {exc}", "check wake.models paths")

    # tools
    tools_lines = await _tools(loaded, report, offline=offline)

    problem = pipewire_default_unreachable(s)
    if problem is not None:
        report.add("alsa default", "FAIL", problem,
                   "set audio.input.device / audio.output.device to the card itself (a name from `speaker "
                   "devices`, e.g. a hw:/plughw: device), or run the daemon as a user service of the account "
                   "that runs PipeWire (raspberrypi/README.md, \"PipeWire and the system service\")")

    if offline:
        for name in ("audio in", "audio out", "mqtt", "realtime"):
            report.add(name, "SKIP", "--offline")
    else:
        await _audio(loaded, report)
        await _mqtt(loaded, report)
        await _realtime(loaded, report, api_key)
    if input_file is not None or (not offline and s.mqtt.enabled and s.rooms.enabled):
        from speaker.rooms.checking import check_rooms

        await check_rooms(loaded, report, input_file)

    print("\ntools the model will see:", file=out)
    for line in tools_lines or ["  (none)"]:
        print(line, file=out)
    print(f"\n{sum(r.status == 'OK' for r in report.results)} ok, "
          f"{sum(r.status == 'FAIL' for r in report.results)} failed, "
          f"{sum(r.status == 'SKIP' for r in report.results)} skipped", file=out)
    return 1 if report.failed else 0


def _last_refusal(s: Settings, report: Report) -> None:
    """The Realtime service's last fatal refusal, if the daemon left one (cleared once a session opens)."""
    from speaker.device.store import DeviceStore

    state = DeviceStore(s.state_dir / "device.json").state
    if state.fatal_reason is None:
        return
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(state.fatal_at)) if state.fatal_at else "?"
    report.add("last refusal", "WARN", f"the daemon was refused at {when}: {state.fatal_reason}",
               "fix the cause (key, quota, model); the first wake word after the cool-off tries again")


def pipewire_default_unreachable(s: Settings, *, confs: tuple[Path, ...] | None = None,
                                 environ: Mapping[str, str] = os.environ, uid: int | None = None) -> str | None:
    """Why ALSA's default device cannot work for this user, or None: pipewire-alsa routes `default` to
    the PipeWire server of the *calling user*, and a system service (user speaker) has none."""
    users = [key for key, device, file in (("audio.input.device", s.audio.input.device, s.audio.input.file),
                                           ("audio.output.device", s.audio.output.device, s.audio.output.file))
             if file is None and device in (None, "default", "pipewire")]
    conf = next((c for c in (PIPEWIRE_ALSA_CONFS if confs is None else confs) if c.exists()), None)
    if not users or conf is None:
        return None
    uid = os.getuid() if uid is None else uid
    runtime = environ.get("PIPEWIRE_RUNTIME_DIR") or environ.get("XDG_RUNTIME_DIR") or f"/run/user/{uid}"
    remote = environ.get("PIPEWIRE_REMOTE", "pipewire-0")
    socket = Path(remote) if remote.startswith("/") else Path(runtime) / remote
    if socket.is_socket():
        return None
    return (f"ALSA's default device is PipeWire ({conf}, from pipewire-alsa), but uid {uid} has no PipeWire "
            f"server to reach ({socket} is not there), so {' and '.join(users)} = default cannot work")


async def _tools(loaded: LoadedConfig, report: Report, *, offline: bool) -> list[str]:
    from speaker.tools.loader import build_tools

    s = loaded.settings
    lines: list[str] = []

    class _NoHost:
        def end_conversation(self) -> None: ...
        def set_volume(self, percent: int) -> None: ...
        def volume(self) -> int:
            return s.audio.output.volume

    # an unconnected MqttConnection: the pack tools are built (and listed) exactly as the daemon offers them
    from speaker.mqtt.connection import MqttConnection

    mqtt = MqttConnection(s.mqtt) if s.mqtt.enabled else None
    try:
        registry = build_tools(s, loaded.base_dir, mqtt, _NoHost())
    except SpeakerError as exc:
        report.add("tools", "FAIL", str(exc), "fix the tool pack named above")
        return lines
    from_packs = len(registry)
    if "timers" in s.tools.builtin:  # the app registers these from its timer service
        from speaker.timers.service import TimerService
        from speaker.timers.tools import timer_tools

        registry.extend(timer_tools(TimerService(s.timers, None)))
    timers = len(registry) - from_packs
    for spec in registry.specs():
        lines.append(f"  local   {spec.name}: {spec.description.splitlines()[0] if spec.description else ''}")
        lines.append(f"          parameters {json.dumps(spec.parameters)}")
    report.add("tools", "OK", f"{len(registry)} local tool(s) offered: {from_packs} from built-ins and "
                              f"{len(s.tools.packs)} pack(s)" + (f", {timers} timer tool(s)" if timers else ""))
    for server in s.mcp.remote:
        lines.append(f"  remote  {server.label} (MCP, run by the service): {server.url}"
                     + (f" allowed {server.allowed_tools}" if server.allowed_tools else ""))
    if s.mcp.bridged:
        if offline:
            report.add("mcp bridge", "SKIP", "--offline")
        else:
            from speaker.mcp.bridge import McpBridge

            try:
                async with McpBridge(s.mcp) as bridge:
                    await bridge.wait_ready(max(b.timeout_s for b in s.mcp.bridged))
                    for bridged in s.mcp.bridged:
                        names = [t.spec.name for t in bridge.tools() if t.spec.name.startswith(bridged.label + "__")]
                        if names:
                            report.add("mcp bridge", "OK", f"{bridged.label}: {len(names)} tool(s)")
                        else:
                            why = next((st.error for st in bridge.status() if st.label == bridged.label and st.error),
                                       "not reachable or no tools")
                            report.add("mcp bridge", "FAIL", f"{bridged.label}: {why}",
                                       "check the url/command and token; the daemon retries it in the background")
                    for tool in bridge.tools():
                        lines.append(f"  bridged {tool.spec.name}: {tool.spec.description[:80]}")
                        lines.append(f"          parameters {json.dumps(tool.spec.parameters)}")
            except Exception as exc:
                report.add("mcp bridge", "FAIL", f"{type(exc).__name__}: {exc}")
    return lines


async def _audio(loaded: LoadedConfig, report: Report) -> None:
    from speaker.audio.factory import open_sink, open_source

    s = loaded.settings
    if s.audio.input.file is not None:
        report.add("audio in", "OK" if s.audio.input.file.exists() else "FAIL", f"file {s.audio.input.file}",
                   "the input file or FIFO does not exist")
    else:
        try:
            source = open_source(s.audio.input, resilient=False)  # errors at once, with the device list

            async def first_frame() -> None:
                async with source:
                    async for _ in source.frames():
                        return

            await _timed(first_frame(), 5.0)
            report.add("audio in", "OK", f"device {s.audio.input.device or 'default'} captures "
                                         f"(channels {s.audio.input.channels})")
        except (SpeakerError, TimeoutError, OSError) as exc:
            report.add("audio in", "FAIL", str(exc) or "no audio within 5 s",
                       "see `speaker devices`; set audio.input.device and channels")
    try:
        async def open_close() -> None:
            async with open_sink(s.audio.output) as _sink:
                pass

        await _timed(open_close(), 5.0)
        where = f"file {s.audio.output.file}" if s.audio.output.file else f"device {s.audio.output.device or 'default'}"
        report.add("audio out", "OK", f"{where} opens")
    except (SpeakerError, TimeoutError, OSError) as exc:
        report.add("audio out", "FAIL", str(exc) or "timed out", "see `speaker devices`; set audio.output.device")


async def _mqtt(loaded: LoadedConfig, report: Report) -> None:
    s = loaded.settings
    if not s.mqtt.enabled:
        report.add("mqtt", "SKIP", "mqtt.enabled is false")
        return
    from speaker.mqtt.connection import MqttConnection

    started = time.monotonic()
    try:
        async with MqttConnection(s.mqtt) as mqtt:
            ok = await mqtt.wait_connected(5.0)
    except SpeakerError as exc:
        report.add("mqtt", "FAIL", str(exc))
        return
    if ok:
        report.add("mqtt", "OK", f"{s.mqtt.host}:{s.mqtt.port} in {(time.monotonic() - started) * 1000:.0f} ms")
    else:
        report.add("mqtt", "FAIL", f"{s.mqtt.host}:{s.mqtt.port} not reachable within 5 s",
                   "is the broker running? check mqtt.host/port, username and password")


async def _realtime(loaded: LoadedConfig, report: Report, api_key: str | None) -> None:
    s = loaded.settings
    if api_key is None:
        report.add("realtime", "SKIP", "no API key")
        return
    from speaker.realtime.client import RealtimeConnection, display_url

    started = time.monotonic()
    try:
        # connect, read session.created, close: no response is created, so this costs nothing
        conn = await RealtimeConnection.open(s.realtime, api_key)
        await conn.close()
    except SpeakerError as exc:
        hint = "check the key and the model/deployment name" if not exc.retryable \
            else "the endpoint is unreachable or busy; check the network"
        report.add("realtime", "FAIL", f"{display_url(s.realtime.url)}: {exc}", hint)
        return
    report.add("realtime", "OK", f"{display_url(s.realtime.url)} model {s.realtime.model} accepted the key "
                                 f"({(time.monotonic() - started) * 1000:.0f} ms)")

