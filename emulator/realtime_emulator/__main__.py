"""``speaker-emulator`` (or ``python -m realtime_emulator``): the Realtime EMULATOR on its own, for trying
a client by hand.

It answers with the generic phrase (or the demo script with --demo) and never contacts OpenAI.
``--fault SPEC`` (repeatable) puts a fault on the next turn of the script, for trying a client's
robustness by hand: the first ``--fault`` on turn 1, the second on turn 2 … (specs: ``--help``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import Sequence

from realtime_emulator.script import FAULT_SPECS, FunctionCallSpec, Reply, Script, Turn, parse_fault
from realtime_emulator.server import DEFAULT_KEY, Emulator

log = logging.getLogger("realtime_emulator")


def demo_script() -> Script:
    """What ``speaker demo`` is asked: the kitchen light, then the time."""
    return Script(turns=[
        Turn(heard="turn on the kitchen light",
             call=FunctionCallSpec("zigbee_light_set", {"device": "kitchen_light", "state": "ON"}),
             then=Reply("The kitchen light is on.")),
        Turn(heard="what time is it", reply=Reply("It is ten past three.")),
    ])


def with_faults(script: Script, faults: Sequence[str]) -> Script:
    """The script with the i-th fault on the i-th turn (turns that say the generic phrase are added)."""
    parsed = [parse_fault(spec) for spec in faults]
    turns = list(script.turns) + [Turn() for _ in range(len(parsed) - len(script.turns))]
    for i, fault in enumerate(parsed):
        turns[i] = dataclasses.replace(turns[i], fault=fault)
    return dataclasses.replace(script, turns=turns)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="speaker-emulator",
                                description="Realtime EMULATOR (GA protocol) on loopback — not the OpenAI service.",
                                epilog="fault specs:\n" + FAULT_SPECS, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--key", default=DEFAULT_KEY,
                   help=f"API key clients must send (default {DEFAULT_KEY}); 'none' accepts any")
    p.add_argument("--speed", type=float, default=4.0, help="reply audio streams this much faster than real time")
    p.add_argument("--demo", action="store_true", help="answer with the demo script (light on, then the time)")
    p.add_argument("--fault", action="append", default=[], metavar="SPEC",
                   help="a fault on the next script turn (repeatable; see below)")
    p.add_argument("--debug", action="store_true", help="verbose logs")
    return p


async def _serve(args: argparse.Namespace) -> None:
    key = None if args.key.lower() == "none" else args.key
    script = with_faults(demo_script() if args.demo else Script(), args.fault)
    async with Emulator(script, api_key=key, host=args.host, port=args.port, speed=args.speed) as emu:
        log.warning("[emulator] Realtime EMULATOR — not the OpenAI service. Point a client at %s "
                    "(key %s). Ctrl-C stops it.", emu.url, "any" if key is None else "from --key")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.warning("[emulator] stopping (%d connection(s), %d validation failure(s))",
                    emu.connections, len(emu.violations))


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        with_faults(Script(), args.fault)  # a bad spec is a usage error, before anything starts
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    logging.getLogger("websockets").setLevel(logging.WARNING)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
