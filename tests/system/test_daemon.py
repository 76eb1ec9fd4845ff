"""`speaker run` as systemd runs it: a real subprocess with a test NOTIFY_SOCKET, file audio, the Realtime
emulator and a real broker. READY after start, WATCHDOG from the audio loop, and on SIGTERM in the
middle of a reply: STOPPING, a normal close at the emulator, 'offline' at the broker, exit 0 within 5 s."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from realtime_emulator import Reply, Script, Turn
from tests.helpers.broker import Broker
from tests.helpers.emulator_thread import emulator_in_thread

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-emulator-daemon"
LONG = "This answer goes on for a while so that there is time to stop the daemon in the middle of it. " * 3


class NotifyListener:
    """A bound AF_UNIX datagram socket standing in for systemd's notify socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            for line in data.decode().splitlines():
                self.messages.append((time.monotonic(), line))

    def wait_for(self, text: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, line in list(self.messages):
                if line == text:
                    return t
            time.sleep(0.02)
        raise AssertionError(f"no {text!r} within {timeout} s; got {[m for _, m in self.messages]}")

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(2)


@pytest.mark.slow
def test_sd_notify_and_graceful_sigterm_during_a_reply(tmp_path: Path, broker: Broker) -> None:
    availability: list[bytes] = []
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-watch")
    watcher.on_message = lambda c, u, m: availability.append(m.payload)
    watcher.connect("127.0.0.1", broker.port)
    watcher.subscribe("speaker/hall/availability", qos=1)
    watcher.loop_start()

    notify = NotifyListener(tmp_path / "notify.sock")
    script = Script(turns=[Turn(reply=Reply(LONG))])
    with emulator_in_thread(script, api_key=KEY, speed=1.0) as emu:
        config = tmp_path / "speaker.yaml"
        config.write_text(
            f"audio:\n  input:\n    file: {ROOT / 'speaker' / 'assets' / 'demo_input.wav'}\n"
            f"  output:\n    file: {tmp_path / 'out.wav'}\n"
            f"realtime:\n  url: {emu.url}\n  api_key: {{env: SPEAKER_DAEMON_KEY}}\n"
            f"mqtt:\n  host: 127.0.0.1\n  port: {broker.port}\n  site_id: hall\n"
            f"tools:\n  packs: []\nstate_dir: {tmp_path}\n")
        env = {**os.environ, "SPEAKER_DAEMON_KEY": KEY, "NOTIFY_SOCKET": str(notify.path),
               "WATCHDOG_USEC": "1000000", "PYTHONUNBUFFERED": "1"}
        env.pop("WATCHDOG_PID", None)
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "speaker", "-c", str(config), "run"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            ready = notify.wait_for("READY=1", 30)
            # watchdog pings come from the audio loop, every half WATCHDOG_USEC
            deadline = time.monotonic() + 5
            while sum(m == "WATCHDOG=1" for _, m in notify.messages) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sum(m == "WATCHDOG=1" for _, m in notify.messages) >= 3
            # wait until the reply is streaming to us, then stop the daemon as systemctl stop does
            deadline = time.monotonic() + 20
            while not emu.call(lambda: emu.emulator.events("response.output_audio.delta", sent=True)):
                assert time.monotonic() < deadline, "no reply started"
                time.sleep(0.05)
            assert any(line.startswith("STATUS=in conversation") for _, line in notify.messages)
            term = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=10)
            exited = time.monotonic()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, out
        assert exited - term < 5.0, f"took {exited - term:.1f} s to stop"
        notify.wait_for("STOPPING=1", 1)
        assert ready - started < 30
        codes = emu.call(lambda: emu.emulator.closed_codes)
        assert codes == [1000], codes  # a normal close: no half-open session left billing
    deadline = time.monotonic() + 3
    while (not availability or availability[-1] != b"offline") and time.monotonic() < deadline:
        time.sleep(0.05)
    watcher.loop_stop()
    notify.close()
    assert availability and availability[-1] == b"offline", availability
    assert KEY not in out
