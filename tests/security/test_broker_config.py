"""Issue 17, High 3 and Low: the shipped broker configuration let anonymous clients in,
and the generated password file was unreadable by the ``mosquitto`` user.

The shipped ``configs/mosquitto/civicwatch.conf`` is what the account generator writes
(closed: no anonymous clients, client ids bound to accounts); a real Mosquitto running it
refuses an anonymous client, and one that drops root to ``mosquitto`` reads the generated
password file. Brokers without accounts (the demo's, the test suite's) listen on loopback
only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from civicwatch.services import find_mosquitto, free_port, start_mosquitto, wait_for_port
from contracts import topics
from contracts.limits import BROKER_MESSAGE_SIZE_LIMIT
from server.mosquitto_auth import SHIPPED_AUTH_DIR, broker_config_text, write_broker_auth
from tests.faults.harness import REPO, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed"),
]

SHIPPED = REPO / "configs" / "mosquitto" / "civicwatch.conf"


def _run_shipped(tmp_path: Path, *, as_root: bool) -> tuple[subprocess.Popen[bytes], int, str]:
    """Mosquitto on the shipped configuration (port, paths and persistence made local)."""
    auth = tmp_path / "auth"
    accounts = write_broker_auth(auth, edge_ids=["edge-a"], server_username="civicwatch-server")
    port = free_port()
    text = (
        SHIPPED.read_text()
        .replace(str(SHIPPED_AUTH_DIR), str(auth))
        .replace("listener 1883 127.0.0.1", f"listener {port} 127.0.0.1")
        .replace("persistence true", "persistence false")
    )
    text += f"log_dest file {tmp_path / 'mosquitto.log'}\n" if as_root else "log_dest stderr\n"
    if as_root:
        text += "user root\n"
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(text)
    conf.chmod(0o644)
    binary = find_mosquitto()
    assert binary is not None
    process = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    return process, port, accounts[1].password


def _connect(
    port: int, username: str | None, password: str | None
) -> tuple[mqtt.Client, list[str]]:
    results: list[str] = []
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"probe-{username}",
        protocol=mqtt.MQTTv5,
        reconnect_on_failure=False,
    )
    if username is not None:
        client.username_pw_set(username, password)
    client.on_connect = lambda c, u, f, rc, p: results.append(str(rc))
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, results


def test_the_shipped_config_is_the_generated_closed_one() -> None:
    text = SHIPPED.read_text()
    assert text == broker_config_text(), "regenerate configs/mosquitto/civicwatch.conf"
    lines = {line.strip() for line in text.splitlines() if not line.startswith("#")}
    assert "allow_anonymous false" in lines and "allow_anonymous true" not in lines
    assert "use_username_as_clientid true" in lines
    assert f"max_packet_size {BROKER_MESSAGE_SIZE_LIMIT}" in lines


def test_the_shipped_config_refuses_anonymous_clients(tmp_path: Path) -> None:
    process, port, password = _run_shipped(tmp_path, as_root=True)
    try:
        wait_for_port("127.0.0.1", port, 10)
        anonymous, refused = _connect(port, None, None)
        edge, accepted = _connect(port, "edge-a", password)
        wait_until(lambda: refused and accepted, 10, "both answers")
        assert refused[0] == "Not authorized", "an anonymous client got in"
        assert accepted[0] == "Success"
        for client in (anonymous, edge):
            client.disconnect()
            client.loop_stop()
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to the mosquitto user needs root")
def test_the_broker_reads_the_generated_password_file_as_the_mosquitto_user(
    tmp_path: Path,
) -> None:
    try:
        pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.skip("no mosquitto user")
    # the mosquitto user must reach the files: not under pytest's private (0700) tree
    directory = Path(tempfile.mkdtemp(prefix="civicwatch-broker-"))
    directory.chmod(0o755)
    try:
        _check_reads_as_mosquitto(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _check_reads_as_mosquitto(tmp_path: Path) -> None:
    process, port, password = _run_shipped(tmp_path, as_root=False)
    try:
        try:
            wait_for_port("127.0.0.1", port, 5)
        except TimeoutError:
            process.terminate()
            _, err = process.communicate(timeout=10)
            pytest.fail(f"mosquitto did not start as its own user: {err.decode()[-400:]}")
        edge, accepted = _connect(port, "edge-a", password)
        wait_until(lambda: accepted, 10, "the edge's login")
        assert accepted[0] == "Success"
        edge.disconnect()
        edge.loop_stop()
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def test_a_broker_without_accounts_listens_on_loopback_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        start_mosquitto(tmp_path / "open", host="0.0.0.0", port=free_port())
    result = subprocess.run(
        [sys.executable, "-m", "civicwatch.embedded_broker", "--host", "0.0.0.0", "--port", "1"],
        cwd=REPO,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and b"loopback" in result.stderr
    assert topics.resend_topic("edge-a") == "civicwatch/v1/edges/edge-a/resend"
