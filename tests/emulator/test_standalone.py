"""``python -m realtime_emulator`` runs on its own and says it is an emulator."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from websockets.asyncio.client import connect

from tests.helpers.ports import free_port


async def test_standalone_emulator_serves_and_labels_itself() -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "realtime_emulator", "--port", str(port), "--key", "sk-test", "--demo",
        stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(20):
            assert proc.stderr is not None
            banner = (await proc.stderr.readline()).decode()
            while "listening" not in banner:
                banner = (await proc.stderr.readline()).decode()
            assert "Realtime EMULATOR" in banner and "not the OpenAI service" in banner
            async with connect(f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime-2.1",
                               additional_headers={"Authorization": "Bearer sk-test"}) as ws:
                created = json.loads(await ws.recv())
            assert created["session"]["instructions"].startswith("[EMULATOR]")
            proc.send_signal(signal.SIGINT)
            rest = (await proc.stderr.read()).decode()
            assert await proc.wait() == 0
        lines = [line for line in (banner + rest).splitlines() if line.strip()]
        assert lines and all("emulator" in line.lower() for line in lines), lines
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
