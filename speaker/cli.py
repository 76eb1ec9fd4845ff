"""`speaker` command line. Thin: parse arguments, load settings, hand over to the module that does the
work. Heavy imports (numpy, TFLite, websockets) happen inside each command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from speaker import __version__
from speaker.errors import ConfigError

if TYPE_CHECKING:
    from speaker.config import LoadedConfig


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="speaker", description="Room speaker: local wake word, OpenAI "
                                "Realtime conversation, MQTT/MCP tools.")
    p.add_argument("--version", action="version", version=f"speaker {__version__}")
    p.add_argument("-c", "--config", action="append", type=Path, metavar="FILE",
                   help="config file (repeatable: later files override earlier ones). Without it: "
                        "$SPEAKER_CONFIG, else /etc/speaker/speaker.yaml, else ./config/speaker.yaml; "
                        "devices, demo and wake-test also run with none (built-in defaults)")
    p.add_argument("--debug", action="store_true", help="verbose logs (never per audio frame)")
    p.add_argument("--log-format", choices=["text", "json"], help="override logging.format")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--input", type=Path, help="read microphone audio from this WAV/raw file or FIFO")
    run.add_argument("--output", type=Path, help="write speaker audio to this WAV/raw file or FIFO")

    demo = sub.add_parser("demo", help="the whole pipeline offline on bundled audio, against the emulator")
    demo.add_argument("--input", type=Path, help="a 16 kHz WAV to use instead of the bundled one")
    demo.add_argument("--output", type=Path, default=Path("out/demo-reply.wav"),
                      help="where the reply audio is written (default out/demo-reply.wav)")
    demo.add_argument("--play", choices=["auto", "yes", "no"], default="auto",
                      help="also play the reply on the default output device (auto: if there is one)")
    demo.add_argument("--live", action="store_true",
                      help="talk to the real Realtime API (needs OPENAI_API_KEY; costs money)")

    check = sub.add_parser("check", help="validate config, show the session and tools, reach MQTT/MCP")
    check.add_argument("--offline", action="store_true",
                       help="only validate (do not open devices, broker, MCP servers or the endpoint)")
    check.add_argument("--json", action="store_true", help="print the effective config as JSON")
    check.add_argument("--input-file", type=Path,
                       help="multi-room calibration: measure the wake word said at 1 m in this WAV")

    sub.add_parser("devices", help="list audio input and output devices")

    sub.add_parser("ha-remove", help="remove this speaker's Home Assistant discovery entries (stop the daemon first)")

    wt = sub.add_parser("wake-test", help="print each wake detection in a WAV as a JSON line")
    wt.add_argument("file", type=Path, help="a 16 kHz mono 16-bit WAV (other rates are resampled)")
    wt.add_argument("--engine", choices=["openwakeword", "microwakeword"],
                    help="override wake.engine")
    wt.add_argument("--model", action="append", help="override wake.models (repeatable)")
    wt.add_argument("--threshold", type=float, help="override every model's threshold")

    et = sub.add_parser("echo-test", help="play a test signal, record the microphone: echo delay, ERLE, barge-in safe?")
    et.add_argument("--input-file", type=Path, help="record from this WAV/raw file or FIFO instead of the input")
    et.add_argument("--output-file", type=Path, help="play to this WAV/raw file or FIFO instead of the output")
    et.add_argument("--simulate", action="store_true", help="a simulated room instead of devices (no hardware)")
    et.add_argument("--sim-delay-ms", type=float, default=60.0, help="simulated room: delay (default 60)")
    et.add_argument("--sim-echo-db", type=float, default=-6.0, help="simulated room: echo level (default -6)")
    et.add_argument("--json", action="store_true", help="print one JSON object")

    bench = sub.add_parser("bench", help="benchmarks: CPU of the always-on front end, or conversation latencies")
    bench.add_argument("--minutes", type=float, default=10.0, help="minutes of audio (default 10)")
    bench.add_argument("--aec", action="store_true", help="echo cancellation figures in the simulated room instead")
    bench.add_argument("--conversation", action="store_true",
                       help="latency and upload figures of a conversation against the emulator instead")
    bench.add_argument("--soak", type=int, metavar="N", default=None,
                       help="N wake/question/answer interactions against the emulator: RSS growth, CPU, failures")
    bench.add_argument("--rooms", action="store_true",
                       help="multi-room arbitration: 20 simulated speakers on one Mosquitto (messages, latency)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"speaker: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from speaker.logs import setup_logging

    command: str = args.command
    if command == "devices":
        from speaker.audio.devices import print_devices

        return print_devices()
    if command == "bench":
        if args.aec:
            from speaker.aec.bench import main as aec_bench

            return aec_bench()
        if args.rooms:
            from speaker.rooms.bench import main as rooms_bench

            return rooms_bench()
        if args.soak is not None:
            from speaker.bench_soak import main as soak_bench

            return soak_bench(args.soak)
        if args.conversation:
            from speaker.bench_conversation import main as conversation_bench

            return conversation_bench()
        from speaker.bench import main as bench_main

        return bench_main(minutes=args.minutes)
    if command == "demo":
        from speaker.demo import run_demo

        setup_logging("DEBUG" if args.debug else "WARNING", args.log_format or "text")
        return run_demo(args)

    loaded = _load_config(args.config, command)
    level = "DEBUG" if args.debug else loaded.settings.logging.level
    setup_logging(level, args.log_format or loaded.settings.logging.format)
    if command == "wake-test":
        from speaker.wake.cli import wake_test

        return wake_test(loaded, args)
    if command == "echo-test":
        from speaker.aec.selftest import echo_test

        return echo_test(loaded, args)
    if command == "check":
        from speaker.check import run_check

        return run_check(loaded, args)
    if command == "ha-remove":
        import asyncio

        from speaker.ha.discovery import remove_discovery

        asyncio.run(remove_discovery(loaded.settings))
        print("removed the Home Assistant discovery entries of "
              f"{loaded.settings.mqtt.base_topic}/{loaded.settings.mqtt.site_id}")
        return 0
    if command == "run":
        import asyncio

        from speaker.app import run_daemon

        return asyncio.run(run_daemon(loaded, input_file=args.input, output_file=args.output))
    raise AssertionError(command)


# commands that need nothing from a config file: with none found they run on the built-in defaults
RUNS_ON_DEFAULTS = frozenset({"wake-test"})


def _load_config(paths: Sequence[Path] | None, command: str) -> LoadedConfig:
    from speaker.config import load_settings
    from speaker.config.loader import NoConfigFound

    try:
        return load_settings(paths)
    except NoConfigFound as exc:
        if command not in RUNS_ON_DEFAULTS:
            raise
        print(f"speaker: no config file found ({', '.join(exc.looked_in)}): using the built-in defaults",
              file=sys.stderr)
        return load_settings(())


if __name__ == "__main__":
    sys.exit(main())
