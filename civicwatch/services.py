"""Start and find the real services civicwatch talks to (Mosquitto, PostgreSQL).

Used by ``civicwatch demo`` and by the test suite, so both run against the same
broker configuration (notably ``max_queued_messages``: Mosquitto's default of 1000
per client drops QoS 1 bursts, and ``max_packet_size``: the contract's limit).

A broker started without accounts lets anonymous clients in, so it listens on loopback
only (:func:`start_mosquitto` refuses any other address) and says so in its log; with
``auth_dir`` (the files of ``civicwatch keys mosquitto``) it is closed like the shipped
configuration.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from contracts.limits import BROKER_MESSAGE_SIZE_LIMIT

logger = logging.getLogger(__name__)

MOSQUITTO_CONF_TEMPLATE = """\
# civicwatch broker configuration (generated)
{access}
persistence true
persistence_location {data_dir}/
autosave_interval 5
log_dest file {data_dir}/mosquitto.log
log_type error
log_type warning
log_type notice
# Mosquitto's default of 1000 queued messages per client drops QoS 1 bursts
# ("Outgoing messages are being dropped"); keep 100k in flight or queued.
max_queued_messages 100000
max_inflight_messages 100
max_packet_size {max_packet_size}
{user_line}
"""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _access_lines(host: str, port: int, auth_dir: Path | None) -> list[str]:
    """Who may connect: the accounts in ``auth_dir``, or anonymous clients on loopback."""
    if auth_dir is not None:
        from server.mosquitto_auth import broker_config_lines, listener_lines

        return [
            "per_listener_settings false",
            *broker_config_lines(auth_dir),
            *listener_lines(port, host),
        ]
    if not is_loopback(host):
        raise ValueError(
            f"refusing to start a broker open to anonymous clients on {host}: without "
            "accounts (civicwatch keys mosquitto) it listens on loopback only"
        )
    return [
        f"listener {port} {host}",
        "# no accounts: anonymous clients, on loopback only",
        "allow_anonymous true",
    ]


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True if something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(host, port, 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s")


def find_mosquitto() -> str | None:
    """Path of the ``mosquitto`` binary, or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if Path(candidate).is_file():
            return candidate
    return None


def install_mosquitto() -> bool:
    """Install Mosquitto from Debian's packages when running as root; True on success."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    logger.info("installing mosquitto from Debian's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "mosquitto"], env=env, capture_output=True, check=False
    )
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        result = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "mosquitto"],
            env=env,
            capture_output=True,
            check=False,
        )
    return result.returncode == 0 and find_mosquitto() is not None


@dataclass
class MosquittoProcess:
    """A private Mosquitto started by civicwatch; ``stop()`` ends it."""

    host: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    auth_dir: Path | None = None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL, for fault tests."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def restart(self, timeout_s: float = 10.0) -> None:
        """Start again on the same port with the same persistence directory."""
        self.stop()
        started = start_mosquitto(
            self.data_dir,
            host=self.host,
            port=self.port,
            timeout_s=timeout_s,
            auth_dir=self.auth_dir,
        )
        self.process = started.process


def start_mosquitto(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout_s: float = 10.0,
    auth_dir: Path | None = None,
) -> MosquittoProcess:
    """Start a Mosquitto with civicwatch's configuration in the foreground of a child process.

    Args:
        data_dir: Its configuration, persistence and log.
        host: Address to listen on; loopback unless ``auth_dir`` is given.
        port: Port (a free one when unset).
        timeout_s: How long to wait for it to listen.
        auth_dir: Accounts written by :func:`server.mosquitto_auth.write_broker_auth`
            (closed broker, client ids bound to accounts); ``None``: anonymous clients,
            loopback only.

    Raises:
        FileNotFoundError: no ``mosquitto`` binary.
        ValueError: anonymous access asked for on an address that is not loopback.
        TimeoutError: it did not start listening in time (its log is in ``data_dir``).
    """
    binary = find_mosquitto()
    if binary is None:
        raise FileNotFoundError("mosquitto is not installed (Debian package 'mosquitto')")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    access = _access_lines(host, port, auth_dir)
    # As root, Mosquitto switches to user 'mosquitto'; keep root so it can write data_dir.
    user_line = "user root" if os.geteuid() == 0 else ""
    conf = data_dir / "mosquitto.conf"
    conf.write_text(
        MOSQUITTO_CONF_TEMPLATE.format(
            access="\n".join(access),
            data_dir=data_dir.resolve(),
            user_line=user_line,
            max_packet_size=BROKER_MESSAGE_SIZE_LIMIT,
        )
    )
    process = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(host, port, timeout_s)
    except TimeoutError:
        process.kill()
        log = data_dir / "mosquitto.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise TimeoutError(f"mosquitto did not start on {host}:{port}; log:\n{tail}") from None
    if auth_dir is None:
        logger.warning(
            "mosquitto started on %s:%d for anonymous clients, loopback only (data in %s)",
            host,
            port,
            data_dir,
        )
    else:
        logger.info("mosquitto started on %s:%d, accounts in %s", host, port, auth_dir)
    return MosquittoProcess(
        host=host, port=port, data_dir=data_dir, process=process, auth_dir=auth_dir
    )


def ensure_postgres(host: str = "127.0.0.1", port: int = 5432, timeout_s: float = 30.0) -> bool:
    """Make sure PostgreSQL accepts connections, starting Debian's cluster if needed."""
    if port_open(host, port):
        return True
    ctl = shutil.which("pg_ctlcluster")
    versions = sorted(Path("/etc/postgresql").glob("*")) if Path("/etc/postgresql").is_dir() else []
    if ctl is None or not versions or os.geteuid() != 0:
        return False
    version = versions[-1].name
    logger.info("starting PostgreSQL %s cluster 'main'", version)
    subprocess.run(
        [ctl, "--skip-systemctl-redirect", version, "main", "start"],
        capture_output=True,
        check=False,
    )
    try:
        wait_for_port(host, port, timeout_s)
    except TimeoutError:
        return False
    return True
