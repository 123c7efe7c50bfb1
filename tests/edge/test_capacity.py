"""Three RTSP cameras on one edge hold their analysis rates (issue 21, short version).

Two stationary cameras look every 2 s with ``decode: keyframes`` and one road camera runs
at 5 fps with ``decode: all``, all three served over real RTSP on loopback and analysed
by the real worker with the default model. ``bench/bench_capacity.py`` is the long
version that raises the number of cameras until one fails.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from civicwatch.services import MosquittoProcess
from edge.config import EdgeConfig
from edge.worker import EdgeWorker
from tests.support.rtsp_server import RtspServer, rtsp_server_available, write_test_clip
from training.registry import default_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BATCH_MODEL = REPO / "models" / "civicwatch-street-v5-batch.onnx"
WINDOW_S = 12.0
CAMERAS = [  # id, decode, analysis fps, frame age bound (s)
    ("shop-1", "keyframes", 0.5, 5.0),
    ("shop-2", "keyframes", 0.5, 5.0),
    ("road-1", "all", 5.0, 1.0),
]


def _zones(path: Path, camera_id: str, road: bool) -> Path:
    zone = {
        "id": "road" if road else "pavement",
        "name": "zone",
        "kind": "road" if road else "no_vending",
        "polygon": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]],
        "objects": ["truck"] if road else ["stall", "goods"],
        "dwell_s": 0 if road else 60,
    }
    path.write_text(yaml.safe_dump({"camera_id": camera_id, "zones": [zone]}), "utf-8")
    return path


def _camera(
    cam: str, decode: str, fps: float, url: str, tmp_path: Path, tuned: bool
) -> dict[str, object]:
    road = decode == "all"
    source: dict[str, str] = {"type": "rtsp", "url": url}
    if not tuned or road:
        source["decode"] = decode  # tuned stationary cameras: keyframes from their profile
    camera: dict[str, object] = {
        "id": cam,
        "source": source,
        "zones": str(_zones(tmp_path / f"{cam}.yaml", cam, road)),
        "analysis_fps": fps,
    }
    if tuned:
        camera["profile"] = "road" if road else "stationary"
    return camera


@pytest.mark.parametrize("tuned", [False, True], ids=["plain", "tuned"])
def test_three_rtsp_cameras_on_one_edge_hold_their_rates(
    tmp_path: Path, mqtt_broker: MosquittoProcess, tuned: bool
) -> None:
    """plain: decode set per camera, no scheduling; tuned: camera profiles (the stationary
    ones decode due keyframes by their profile), spread looks, batches of 4 on the batch-axis
    model, change gating."""
    reason = rtsp_server_available()
    if reason is not None:
        pytest.skip(reason)
    model = BATCH_MODEL if tuned else default_model()
    # 640x360 at 25 fps with a keyframe every second, 8 s looped
    clip = write_test_clip(tmp_path / "street.mp4", frames=200, size_wh=(640, 360), gop=25)
    with RtspServer(clip) as server:
        config = EdgeConfig.model_validate(
            {
                "edge_id": "edge-capacity",
                "mqtt": {"host": mqtt_broker.host, "port": mqtt_broker.port},
                "detector": {"type": "yolo", "path": str(model)},
                "scheduling": {"max_batch": 4, "gating": {"enabled": True}} if tuned else {},
                "model_registry": str(REPO / "models" / "registry.yaml"),
                "outbox_path": str(tmp_path / "outbox.db"),
                "cameras": [
                    _camera(cam, decode, fps, server.url, tmp_path, tuned)
                    for cam, decode, fps, _ in CAMERAS
                ],
            }
        )
        worker = EdgeWorker(config)
        worker.start()
        try:
            time.sleep(4.0)  # connect and get the first keyframe
            before = [p.times.frames for p in worker.pipelines]
            time.sleep(WINDOW_S)
            after = [p.times.frames for p in worker.pipelines]
            stats = [r.stats() for r in worker.readers]
        finally:
            worker.stop()

    for (cam, decode, fps, bound_s), n0, n1, st in zip(CAMERAS, before, after, stats, strict=True):
        rate = (n1 - n0) / WINDOW_S
        assert rate >= 0.8 * fps, f"{cam}: {rate:.2f} frames/s analysed, wanted {fps}"
        age = st.frame_age
        assert age.p99_s is not None and 0 <= age.p99_s <= bound_s, (cam, age)
        assert st.source.reconnects == 0, (cam, st.source.last_error)
        if decode == "keyframes":  # only the due keyframes were decoded
            assert st.source.frames_decoded <= st.source.frames_delivered + 1, (cam, st)
    road, shop = stats[2].source, stats[0].source
    assert road.frames_decoded >= 20 * shop.frames_decoded


def test_gpu_bench_dry_run_prints_its_table() -> None:
    """``bench/gpu/run.sh --dry-run`` runs the GPU bench's code on the CPU (no GPU here)."""
    done = subprocess.run(
        [str(REPO / "bench" / "gpu" / "run.sh"), "--dry-run"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("GPU bench (DRY RUN on the CPU: not GPU numbers)")
    rows = [line for line in lines if line.startswith("| ") and line[2].isdigit()]
    assert [row.split("|")[1].strip() for row in rows] == ["1", "2"]
    for row in rows:
        latency, network, fps = (float(c) for c in row.split("|")[2:5])
        assert latency > 0 and network > 0 and fps > 0
    assert "stationary cameras" in lines[-1] and "road cameras" in lines[-1]


def test_gpu_bench_without_cuda_fails_clearly() -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA: the GPU bench would run for real")
    done = subprocess.run(
        [str(REPO / "bench" / "gpu" / "run.sh")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "no CUDAExecutionProvider in this onnxruntime" in done.stderr
    assert "--dry-run" in done.stderr and done.stdout == ""
