"""A real Mosquitto with TLS, per-edge accounts and the generated ACL.

The broker files come from :func:`server.mosquitto_auth.write_broker_auth`; the edge's
publisher and the server's ingest connect over TLS with their generated credentials; an
edge cannot publish under another edge's topics, and wrong or missing credentials are
refused.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion

from civicwatch.services import find_mosquitto, free_port, wait_for_port
from contracts import topics
from edge.chain import EdgeChain, EdgeKey
from edge.mqtt import MqttConfig, Publisher
from edge.outbox import Outbox
from server.core.config import load_settings
from server.ingest import IngestContext, IngestMetrics, MqttIngest
from server.mosquitto_auth import (
    MqttAccount,
    broker_config_lines,
    listener_lines,
    write_broker_auth,
)
from tests.faults.harness import Database, event_messages, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed"),
]


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 / localhost signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "civicwatch test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(_pem_key(key))
    return paths


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[tuple[int, Path, dict[str, MqttAccount]]]:
    ca, cert, key = _certificates(tmp_path)
    accounts = write_broker_auth(
        tmp_path / "auth", edge_ids=["edge-a", "edge-b"], server_username="civicwatch-server"
    )
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    lines = [
        "per_listener_settings false",
        *broker_config_lines(tmp_path / "auth"),
        *listener_lines(port, "127.0.0.1"),
        f"cafile {ca}",
        f"certfile {cert}",
        f"keyfile {key}",
        "persistence false",
        f"log_dest file {tmp_path / 'mosquitto.log'}",
        "max_queued_messages 100000",
    ]
    if os.geteuid() == 0:
        lines.append("user root")
    conf.write_text("\n".join(lines) + "\n")
    binary = find_mosquitto()
    assert binary is not None
    process = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port("127.0.0.1", port, 10)
        yield port, ca, {a.username: a for a in accounts}
    finally:
        process.terminate()
        process.wait(timeout=10)


def _client(
    port: int, ca: Path, username: str | None, password: str | None
) -> tuple[mqtt.Client, list[tuple[str, bytes]], threading.Event, list[str]]:
    received: list[tuple[str, bytes]] = []
    connected = threading.Event()
    refusals: list[str] = []
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"probe-{username}-{time.monotonic_ns()}",
        protocol=mqtt.MQTTv5,
        reconnect_on_failure=False,
    )
    client.tls_set(ca_certs=str(ca))
    if username is not None:
        client.username_pw_set(username, password)

    def on_connect(c: mqtt.Client, u: object, f: object, rc: object, p: object) -> None:
        if getattr(rc, "is_failure", False):
            refusals.append(str(rc))
        else:
            connected.set()

    client.on_connect = on_connect
    client.on_message = lambda c, u, m: received.append((m.topic, bytes(m.payload)))
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, received, connected, refusals


def test_edges_publish_over_tls_only_under_their_own_topics(
    secure_broker: tuple[int, Path, dict[str, MqttAccount]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, ca, accounts = secure_broker
    server = accounts["civicwatch-server"]
    db = Database(f"sqlite:///{tmp_path / 'cases.db'}", tmp_path / "evidence")
    key = EdgeKey.generate()
    db.register("edge-a", key)
    monkeypatch.setenv("SERVER_USER", server.username)
    monkeypatch.setenv("SERVER_PASS", server.password)
    metrics = IngestMetrics()
    ingest = MqttIngest(
        settings=load_settings(
            None,
            database_url=db.url,
            evidence_dir=db.evidence_dir,
            mqtt={
                "host": "localhost",
                "port": port,
                "client_id": "civicwatch-server-tls",
                "username_env": "SERVER_USER",
                "password_env": "SERVER_PASS",
                "tls_ca_file": ca,
                "reconnect_max_s": 1,
            },
        ),
        session_factory=db.factory,
        context=IngestContext(store=db.store),
        metrics=metrics,
    )
    ingest.start()
    monkeypatch.setenv("EDGE_A_USER", "edge-a")
    monkeypatch.setenv("EDGE_A_PASS", accounts["edge-a"].password)
    outbox = Outbox(tmp_path / "edge-a" / "outbox.db")
    chain = EdgeChain(outbox, key, edge_id="edge-a")
    publisher = Publisher(
        edge_id="edge-a",
        config=MqttConfig(
            host="localhost",
            port=port,
            tls_ca_file=ca,
            username_env="EDGE_A_USER",
            password_env="EDGE_A_PASS",
            reconnect_max_s=1,
        ),
        outbox=outbox,
    )
    intruder, _, intruder_up, _ = _client(port, ca, "edge-b", accounts["edge-b"].password)
    spy: mqtt.Client | None = None
    try:
        assert ingest.wait_connected(15) and intruder_up.wait(10)
        publisher.start()
        event, messages = event_messages("edge-a", "tls")
        chain.enqueue(messages, [event])
        assert publisher.wait_until_drained(20)
        wait_until(lambda: db.complete(1), 20, "the event over TLS")
        assert db.verify("edge-a").ok
        # edge-b's account tries to speak for edge-a, and the server's account to publish
        # (its login, bound to the server's client id, bumps the ingest, which resumes)
        forged = event_messages("edge-a", "forged")[1][-1]
        intruder.publish(forged.topic, forged.payload, qos=1).wait_for_publish(5)
        spy, _, spy_up, _ = _client(port, ca, server.username, server.password)
        assert spy_up.wait(10)
        spy.publish(forged.topic, forged.payload, qos=1).wait_for_publish(5)
        spy.disconnect()
        spy.loop_stop()
        spy = None
        own = topics.availability_topic("edge-b")
        intruder.publish(own, b"online", qos=1).wait_for_publish(5)
        wait_until(
            lambda: metrics.snapshot().accepted.get("availability", 0) >= 2,
            20,
            "edge-b's own message",
        )
        assert db.counts().event_messages == 1, "the ACL let a forgery through"
    finally:
        for client in (spy, intruder):
            if client is not None:
                client.disconnect()
                client.loop_stop()
        publisher.stop()
        chain.close()
        ingest.stop()
        db.close()


@pytest.mark.parametrize(("username", "password"), [(None, None), ("edge-a", "wrong-password")])
def test_missing_or_wrong_credentials_are_refused(
    secure_broker: tuple[int, Path, dict[str, MqttAccount]],
    username: str | None,
    password: str | None,
) -> None:
    port, ca, _ = secure_broker
    client, _, connected, refusals = _client(port, ca, username, password)
    try:
        wait_until(lambda: refusals, 10, "a refusal")
        assert not connected.is_set()
        assert refusals[0] in ("Not authorized", "Bad user name or password")
    finally:
        client.loop_stop()


def test_credentials_are_kept_when_the_files_are_regenerated(tmp_path: Path) -> None:
    first = {
        a.username: a.password
        for a in write_broker_auth(tmp_path, edge_ids=["e1"], server_username="srv")
    }
    second = {
        a.username: a.password
        for a in write_broker_auth(tmp_path, edge_ids=["e1", "e2"], server_username="srv")
    }
    assert second["e1"] == first["e1"] and second["srv"] == first["srv"] and "e2" in second
    assert oct((tmp_path / "passwd").stat().st_mode & 0o777) in ("0o600", "0o640")
    assert oct((tmp_path / "credentials" / "e1.env").stat().st_mode & 0o777) == "0o600"
    acl = (tmp_path / "acl").read_text()
    assert "user e2\ntopic write civicwatch/v1/edges/e2/#\n" in acl
    with pytest.raises(ValueError, match="not a valid topic segment"):
        write_broker_auth(tmp_path, edge_ids=["../x"], server_username="srv")
