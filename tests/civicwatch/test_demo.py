"""``civicwatch demo`` end to end: broker, server, edge on the rendered clip, a case with snapshots.

Runs the demo exactly as a newcomer would (as a subprocess), on a private broker port so
it starts its own Mosquitto, then stops it with Ctrl-C (SIGINT). The case also gets its
event clip (issue 20): evidence of kind ``clip`` (video/mp4) that PyAV plays, whose bytes
hash to their name, and the case verifies against the edge's chain (its clip record too).
"""

from __future__ import annotations

import hashlib
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
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
        _check_the_clip(url, case["id"], tmp_path, deadline + 120)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0


def _check_the_clip(url: str, case_id: int, tmp_path: Path, deadline: float) -> None:
    """The case's event clip arrives, plays, hashes to its name and the case verifies."""
    clip = None
    while clip is None and time.monotonic() < deadline:
        detail = httpx.get(f"{url}/api/v1/cases/{case_id}", timeout=5).json()
        clips = [e for e in detail["evidence"] if e["kind"] == "clip" and e["available"]]
        clip = clips[0] if clips else None
        time.sleep(1)
    assert clip is not None, f"no event clip on case {case_id}; see the demo's edge.log"
    assert clip["content_type"] == "video/mp4"
    data = httpx.get(f"{url}{clip['url']}", timeout=10).content
    assert hashlib.sha256(data).hexdigest() == clip["sha256"]
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(container.streams.video[0]))
    assert frames > 0

    config = tmp_path / "demo" / "server.yaml"
    verify = ["-m", "civicwatch", "evidence", "verify", "--case", str(case_id)]
    done = None
    while time.monotonic() < deadline:  # an update of the open case may wait for its record
        chain = httpx.get(f"{url}/api/v1/cases/{case_id}", timeout=5).json()["chain"]
        done = subprocess.run(
            [sys.executable, *verify, "--config", str(config)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode == 0 and chain["status"] == "verified":
            break
        time.sleep(1)
    assert done is not None and done.returncode == 0, done and done.stdout + done.stderr
    assert f"case {case_id}: VERIFIED" in done.stdout
    assert chain["status"] == "verified" and chain["issues"] == []
