"""``civicwatch demo`` end to end: broker, server, edge on the rendered clip, a case with snapshots.

Runs the demo exactly as a newcomer would (as a subprocess), on a private broker port so
it starts its own Mosquitto, then stops it with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from civicwatch.services import find_mosquitto, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def test_demo_reaches_a_case_with_snapshots(tmp_path: Path) -> None:
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed ('make test' installs it)")
    config = tmp_path / "demo.yaml"
    config.write_text(
        f"workdir: {tmp_path / 'demo'}\nmqtt_port: {free_port()}\nhttp_port: 0\nclip_seconds: 30\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "civicwatch", "demo", "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        url = None
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"Review page: (http://\S+)/", line)
            if match:
                url = match.group(1)
        assert url, "the demo printed no review URL:\n" + "".join(lines)
        assert "started Mosquitto" in "".join(lines)

        case = None
        while case is None and time.monotonic() < deadline + 60:
            items = httpx.get(f"{url}/api/v1/cases", timeout=5).json()["items"]
            if items:
                detail = httpx.get(f"{url}/api/v1/cases/{items[0]['id']}", timeout=5).json()
                if detail["evidence"] and all(e["available"] for e in detail["evidence"]):
                    case = detail
            time.sleep(1)
        assert case is not None, "no case with its snapshots in the demo"
        assert case["violation_type"] == "street_stall"
        page = httpx.get(f"{url}/", timeout=5)
        assert page.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
