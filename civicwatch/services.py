"""Start and find the real services civicwatch talks to (Mosquitto, PostgreSQL).

Used by ``civicwatch demo`` and by the test suite, so both run against the same
broker configuration (notably ``max_queued_messages``: Mosquitto's default of 1000
per client drops QoS 1 bursts).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

MOSQUITTO_CONF_TEMPLATE = """\
# civicwatch broker configuration (generated)
listener {port} {host}
allow_anonymous true
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
message_size_limit 8388608
{user_line}
"""


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
            self.data_dir, host=self.host, port=self.port, timeout_s=timeout_s
        )
        self.process = started.process


def start_mosquitto(
    data_dir: Path, *, host: str = "127.0.0.1", port: int | None = None, timeout_s: float = 10.0
) -> MosquittoProcess:
    """Start a Mosquitto with civicwatch's configuration in the foreground of a child process.

    Raises:
        FileNotFoundError: no ``mosquitto`` binary.
        TimeoutError: it did not start listening in time (its log is in ``data_dir``).
    """
    binary = find_mosquitto()
    if binary is None:
        raise FileNotFoundError("mosquitto is not installed (Debian package 'mosquitto')")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    # As root, Mosquitto switches to user 'mosquitto'; keep root so it can write data_dir.
    user_line = "user root" if os.geteuid() == 0 else ""
    conf = data_dir / "mosquitto.conf"
    conf.write_text(
        MOSQUITTO_CONF_TEMPLATE.format(
            host=host, port=port, data_dir=data_dir.resolve(), user_line=user_line
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
    logger.info("mosquitto started on %s:%d (data in %s)", host, port, data_dir)
    return MosquittoProcess(host=host, port=port, data_dir=data_dir, process=process)


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
