"""scripts/screenshots.py (``make screenshots``) still makes the README's pictures.

Runs the script as ``make screenshots`` does (real server, real ingest, Debian's Chromium)
into a temporary folder and checks every PNG: a real PNG, at most 1280 px wide, small
enough for the repository, and not blank (the queue pages show evidence photos).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.test_review_page import CHROMIUM

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "screenshots.py"
MIN_STDDEV = {
    "login.png": 4.0,
    "review.png": 20.0,
    "review-quarantine.png": 20.0,
    "case.png": 20.0,
    "stats.png": 8.0,
    "map.png": 8.0,
    "cameras.png": 8.0,
    "zones.png": 20.0,
    "webhooks.png": 8.0,
}
"""Grey-level spread; a blank page is 0, the login form about 10, the queue about 50."""


def test_the_script_writes_sensible_pngs(tmp_path: Path) -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (Debian package 'chromium'); the script needs it")
    pytest.importorskip("playwright.sync_api", reason="python playwright drives Chromium")
    image_module = pytest.importorskip("PIL.Image", reason="Pillow reads the PNGs")
    stat_module = pytest.importorskip("PIL.ImageStat", reason="Pillow reads the PNGs")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)],
        cwd=tmp_path,  # the script finds the repository from its own path
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(MIN_STDDEV)
    for name, min_stddev in MIN_STDDEV.items():
        path = tmp_path / name
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), name
        assert 2_000 < path.stat().st_size < 200_000, (name, path.stat().st_size)
        with image_module.open(path) as image:
            image.verify()
        with image_module.open(path) as image:
            assert image.format == "PNG"
            assert 800 <= image.width <= 1280 and 400 <= image.height <= 1600, image.size
            grey = image.convert("L")
            spread = stat_module.Stat(grey).stddev[0]
            assert spread > min_stddev, (name, spread)
            colours = grey.getcolors(256)
            assert colours is not None and len(colours) > 16, (name, colours)
