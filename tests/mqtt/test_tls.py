"""TLS against a real Mosquitto TLS listener: CA verification, client certificates, and what
``insecure`` does (skips the hostname check only)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from speaker.config.schema import MqttSettings
from speaker.mqtt import MqttConnection, MqttUnavailable
from tests.helpers.broker import Broker
from tests.helpers.ports import free_port, wait_for_port
from tests.mqtt.fixtures import settings_for

pytestmark = pytest.mark.broker


@dataclass
class TlsBroker:
    port: int
    certs: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _make_certs(d: Path) -> None:
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)
    for name, usage, san in (("server", "serverAuth", "subjectAltName=DNS:broker.test\n"),
                             ("client", "clientAuth", "")):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        (d / f"{name}.ext").write_text(f"{san}extendedKeyUsage={usage}\nbasicConstraints=CA:FALSE\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=d)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    if shutil.which("mosquitto") is None or shutil.which("openssl") is None:
        pytest.skip("needs mosquitto and openssl")
    d = tmp_path_factory.mktemp("tls")
    _make_certs(d)
    port = free_port()
    # "user root": when the tests run as root, mosquitto would switch to its own user, which cannot
    # read keys in pytest's private tmp folders (ignored when not run as root)
    (d / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nuser root\ncafile {d}/ca.crt\ncertfile {d}/server.crt\n"
        f"keyfile {d}/server.key\nrequire_certificate true\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(d / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield TlsBroker(port, d)
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def _tls_settings(tls: TlsBroker, *, insecure: bool) -> MqttSettings:
    d = tls.certs
    return settings_for(Broker("127.0.0.1", tls.port, None), tls={
        "ca_file": str(d / "ca.crt"), "cert_file": str(d / "client.crt"), "key_file": str(d / "client.key"),
        "insecure": insecure})


async def test_tls_with_a_client_certificate_round_trips(tls_broker: TlsBroker) -> None:
    # the server certificate names broker.test and we dial 127.0.0.1: 'insecure' skips only that check
    async with MqttConnection(_tls_settings(tls_broker, insecure=True), backoff_initial_s=0.05) as conn:
        assert await conn.wait_connected(5)
        conn.subscribe("secure/#")
        await conn.ensure_subscribed("secure/#", 2)
        echo = conn.expect("secure/topic")
        await conn.publish("secure/topic", "over tls", qos=1)
        async with asyncio.timeout(2):
            message = await echo
        assert message.payload == b"over tls"


async def test_tls_hostname_mismatch_is_refused_without_insecure(tls_broker: TlsBroker) -> None:
    async with MqttConnection(_tls_settings(tls_broker, insecure=False), backoff_initial_s=0.05) as conn:
        assert not await conn.wait_connected(0.7)
        with pytest.raises(MqttUnavailable):
            await conn.publish("secure/topic", "must not go", qos=1)


async def test_tls_without_the_ca_is_refused(tls_broker: TlsBroker) -> None:
    d = tls_broker.certs
    settings = settings_for(Broker("127.0.0.1", tls_broker.port, None), tls={
        "cert_file": str(d / "client.crt"), "key_file": str(d / "client.key"), "insecure": True})
    async with MqttConnection(settings, backoff_initial_s=0.05) as conn:
        assert not await conn.wait_connected(0.7)  # system CAs do not trust the test CA
