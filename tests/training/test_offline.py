"""ultralytics makes no network attempt once training.offline has configured it.

Each check runs in a fresh interpreter (ultralytics decides whether it is online when it is
first imported) with every socket connect and DNS lookup replaced by a guard that records the
attempt and raises; the child prints the attempts as JSON and the test asserts there were none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from training.scenes.classes import CLASSES

REPO = Path(__file__).resolve().parents[2]
THREADS = min(8, max(1, (os.cpu_count() or 1) - 1)) + 1
"""Not what ultralytics would pick (``cpu_count - 1``, at most 8)."""

GUARD = textwrap.dedent(
    """
    import json, socket, sys
    ATTEMPTS = []

    def _blocked(kind):
        def guard(*args, **kwargs):
            ATTEMPTS.append([kind, repr(args[:2])[:200]])
            raise OSError(f"network blocked by test ({kind})")
        return guard

    socket.socket.connect = _blocked("connect")
    socket.socket.connect_ex = _blocked("connect_ex")
    socket.create_connection = _blocked("create_connection")
    socket.getaddrinfo = _blocked("getaddrinfo")
    socket.gethostbyname = _blocked("gethostbyname")

    def report(extra):
        sys.stdout.write("RESULT " + json.dumps({"attempts": ATTEMPTS, **extra}) + "\\n")
    """
)


def _run(body: str, tmp_path: Path, timeout: float) -> dict[str, object]:
    script = tmp_path / "child.py"
    script.write_text(GUARD + textwrap.dedent(body))
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (
        f"child failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    result: dict[str, object] = json.loads(lines[-1][len("RESULT ") :])
    return result


def test_guard_catches_a_connection(tmp_path: Path) -> None:
    """The guard itself works: an unconfigured attempt to resolve a host is recorded."""
    result = _run(
        """
        try:
            socket.getaddrinfo("example.com", 443)
        except OSError:
            pass
        report({})
        """,
        tmp_path,
        60,
    )
    assert result["attempts"], "the guard recorded nothing"


def test_import_and_font_check_make_no_network_attempt(tmp_path: Path) -> None:
    result = _run(
        f"""
        from pathlib import Path
        from training.offline import configure_offline, apply_settings
        ultra = configure_offline(Path({str(tmp_path / "cfg")!r}))
        apply_settings(Path({str(tmp_path / "runs")!r}), Path({str(tmp_path / "data")!r}))
        import ultralytics.utils as u
        from ultralytics.utils.checks import check_font
        font = check_font("Arial.ttf")
        report({{"online": u.ONLINE, "is_online": u.is_online(), "font": str(font),
                 "ultra": str(ultra), "sync": u.SETTINGS["sync"]}})
        """,
        tmp_path,
        120,
    )
    assert result["attempts"] == []
    assert result["online"] is False and result["is_online"] is False
    assert result["sync"] is False
    assert result["font"] == str(Path(str(result["ultra"])) / "Arial.ttf")


def test_configure_after_foreign_import_is_refused(tmp_path: Path) -> None:
    result = _run(
        f"""
        import os
        os.environ["YOLO_OFFLINE"] = "1"
        import ultralytics
        from pathlib import Path
        from training.offline import OfflineSetupError, configure_offline
        try:
            configure_offline(Path({str(tmp_path / "cfg")!r}))
        except OfflineSetupError as exc:
            report({{"error": str(exc)}})
        else:
            report({{"error": None}})
        """,
        tmp_path,
        120,
    )
    assert "imported before configure_offline" in str(result["error"])


def test_missing_font_is_a_clear_error(tmp_path: Path) -> None:
    from training.offline import OfflineSetupError, configure_offline

    if "ultralytics" in sys.modules:
        pytest.skip("ultralytics already imported in this process")
    with pytest.raises(OfflineSetupError, match=r"font .* not found"):
        configure_offline(tmp_path / "cfg", font=tmp_path / "missing.ttf")


@pytest.mark.slow
@pytest.mark.training
def test_tiny_training_run_is_offline_and_exports_a_usable_onnx(tmp_path: Path) -> None:
    """One epoch on a handful of 160 px images; the ONNX loads in the edge's yolo plugin, and
    training can continue from it."""
    config = {
        "model": str(REPO / "training" / "arch" / "civicwatch-street.yaml"),
        "name": "tiny",
        "runs_dir": str(tmp_path / "runs"),
        "config_dir": str(tmp_path / "cfg"),
        "dataset": {
            "root": str(tmp_path / "ds"),
            "count": 8,
            "seed": 5,
            "imgsz": 160,
            "val_fraction": 0.25,
            "workers": 1,
        },
        "holdout": {
            "root": str(tmp_path / "hold"),
            "count": 2,
            "seed": 6,
            "imgsz": 160,
            "val_fraction": 1.0,
            "workers": 1,
        },
        "train": {
            "epochs": 1,
            "imgsz": 160,
            "batch": 4,
            "workers": 0,
            "cache": "none",
            "threads": THREADS,
        },
        "export": {"output": str(tmp_path / "tiny.onnx")},
    }
    (tmp_path / "train.yaml").write_text(json.dumps(config))
    result = _run(
        f"""
        import logging
        from pathlib import Path
        from training.config import load_config
        from training.train import export_onnx, train

        class Keep(logging.Handler):
            messages = []

            def emit(self, record):
                self.messages.append(record.getMessage())

        logging.getLogger("training.train").addHandler(Keep())
        logging.getLogger("training.train").setLevel(logging.INFO)
        cfg = load_config(Path({str(tmp_path / "train.yaml")!r}))
        res = train(cfg)
        out = export_onnx(cfg, res.best, cfg.export.output)
        again = train(cfg, init=out, epochs=1, name="tiny-from-onnx")
        report({{"onnx": str(out), "again": str(again.best), "log": Keep.messages}})
        """,
        tmp_path,
        420,
    )
    assert result["attempts"] == [], f"network attempts: {result['attempts']}"
    # ultralytics resets torch to cpu_count - 1 threads; the configured count wins
    log = result["log"]
    assert isinstance(log, list)
    threads = [m for m in log if "torch threads" in m]
    assert threads == [f"training with {THREADS} torch threads"] * 2, log
    # the data team's path back: training continues from the deployed ONNX file
    assert Path(str(result["again"])).is_file()
    assert (tmp_path / "runs" / "tiny-from-onnx" / "weights" / "init-tiny.pt").is_file()
    onnx_path = Path(str(result["onnx"]))
    from training.train import read_onnx_metadata

    meta = read_onnx_metadata(onnx_path)
    assert {"names", "imgsz", "stride"} <= set(meta)
    from edge.detectors.plugins.yolo import YoloConfig, YoloDetector

    detector = YoloDetector(YoloConfig(path=onnx_path))
    detections = detector.detect(np.zeros((180, 320, 3), dtype=np.uint8))
    assert detections.names == CLASSES
