"""A real Home Assistant Core for the end-to-end test: ``hass`` from the HA venv (``script/ha-venv``) on a
loopback port with a fresh config dir, an owner with a long-lived token written into ``.storage/auth``
before start (no onboarding), and the MQTT integration added through HA's own config-flow REST API."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

import websockets

from tests.helpers.ports import free_port

CONFIGURATION = """\
homeassistant:
  name: Speaker test
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  time_zone: UTC
  country: NL
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
config:
websocket_api:
logger:
  default: warning
"""


def _auth_storage(token_id: str, jwt_key: str) -> dict[str, Any]:
    user = uuid.uuid4().hex
    return {"version": 1, "minor_version": 1, "key": "auth", "data": {
        "users": [{"id": user, "group_ids": ["system-admin"], "is_owner": True, "is_active": True,
                   "name": "Test owner", "system_generated": False, "local_only": False}],
        "groups": [{"id": "system-admin", "name": "Administrators"}],
        "credentials": [],
        "refresh_tokens": [{
            "id": token_id, "user_id": user, "client_id": None, "client_name": "speaker test",
            "client_icon": None, "token_type": "long_lived_access_token",
            "created_at": datetime.now(UTC).isoformat(), "access_token_expiration": 86400.0,
            "token": secrets.token_hex(64), "jwt_key": jwt_key, "last_used_at": None, "last_used_ip": None,
            "expire_at": None, "credential_id": None, "version": "2025.4.4"}],
    }}


def _access_token(python: str, token_id: str, jwt_key: str) -> str:
    """The long-lived access token: a JWT signed with the refresh token's key (PyJWT from the HA venv)."""
    code = ("import jwt,sys,time; now=int(time.time()); "
            "print(jwt.encode({'iss': sys.argv[1], 'iat': now, 'exp': now + 86400}, sys.argv[2], 'HS256'))")
    done = subprocess.run([python, "-c", code, token_id, jwt_key], capture_output=True, text=True, timeout=60,
                          check=True)
    return done.stdout.strip()


@dataclass
class HomeAssistant:
    python: str
    config_dir: Path
    port: int = field(default_factory=free_port)
    token: str = ""
    process: subprocess.Popen[bytes] | None = None
    _ids: count[int] = field(default_factory=lambda: count(1))

    @property
    def log(self) -> Path:
        return self.config_dir / "home-assistant.log"

    def start(self) -> None:
        storage = self.config_dir / ".storage"
        storage.mkdir(parents=True)
        (self.config_dir / "configuration.yaml").write_text(CONFIGURATION.format(port=self.port))
        token_id, jwt_key = uuid.uuid4().hex, secrets.token_hex(64)
        (storage / "auth").write_text(json.dumps(_auth_storage(token_id, jwt_key)))
        self.token = _access_token(self.python, token_id, jwt_key)
        self.process = subprocess.Popen(
            [self.python, "-m", "homeassistant", "--config", str(self.config_dir), "--skip-pip",
             "--log-file", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_lines(self, *words: str) -> list[str]:
        """Lines of HA's log that mention any of ``words`` (case-insensitive)."""
        if not self.log.exists():
            return []
        lowered = [w.lower() for w in words]
        return [line for line in self.log.read_text(errors="replace").splitlines()
                if any(w in line.lower() for w in lowered)]

    # -- REST ---------------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers={"Authorization": f"Bearer {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    async def rest(self, method: str, path: str, body: Any = None) -> Any:
        return await asyncio.to_thread(self._request, method, path, body)

    async def wait_running(self, within: float) -> float:
        """Seconds until HA answers its API and reports RUNNING (bounded by ``within``)."""
        started = time.monotonic()
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"hass exited with {self.process.returncode}: "
                                   + "\n".join(self.log_lines("error")[-20:]))
            try:
                if (await self.rest("GET", "/api/config")).get("state") == "RUNNING":
                    return time.monotonic() - started
            except (OSError, urllib.error.URLError, ValueError):
                pass
            if time.monotonic() - started > within:
                raise TimeoutError(f"Home Assistant not running after {within} s")
            await asyncio.sleep(0.5)

    async def add_mqtt(self, host: str, port: int) -> dict[str, Any]:
        """The MQTT integration through HA's config flow, as a user adds it in the UI."""
        flow = await self.rest("POST", "/api/config/config_entries/flow", {"handler": "mqtt"})
        while flow.get("type") == "form":
            flow = await self.rest("POST", f"/api/config/config_entries/flow/{flow['flow_id']}",
                                   {"broker": host, "port": port})
        assert flow.get("type") == "create_entry", flow
        result: dict[str, Any] = flow
        return result

    # -- WebSocket ----------------------------------------------------------------------------------------
    async def ws(self, *commands: dict[str, Any]) -> list[Any]:
        """Results of the WebSocket commands, in order, on one authenticated connection."""
        async with websockets.connect(f"ws://127.0.0.1:{self.port}/api/websocket", max_size=None) as sock:
            assert json.loads(await sock.recv())["type"] == "auth_required"
            await sock.send(json.dumps({"type": "auth", "access_token": self.token}))
            assert json.loads(await sock.recv())["type"] == "auth_ok"
            results = []
            for command in commands:
                ident = next(self._ids)
                await sock.send(json.dumps({"id": ident, **command}))
                while (answer := json.loads(await sock.recv())).get("id") != ident:
                    pass
                assert answer.get("success"), answer
                results.append(answer["result"])
            return results
