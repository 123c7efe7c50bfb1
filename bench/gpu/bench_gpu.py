"""Cameras per GPU and per-frame latency at batch 1, 8 and 32 (issue 21), in one table.

Runs the edge's own detector (``edge.detectors``, the yolo plugin) on the registered
batch-axis model with the CUDA or TensorRT execution provider, on 1280x720 frames of a
textured street clip written here (no downloads): for each batch size, ``detect_batch``
(preprocess, one ``session.run``, NMS) timed over a few seconds, and the bare ``session.run``
of the prepared batch. From the best throughput it derives cameras per GPU: stationary
cameras at one look every ``--look-s`` seconds, and road cameras at ``--road-fps``. Decoding
is not in it (each camera's keyframe decode runs on the CPU cores: ``bench/bench_capacity.py``
measures that side).

Without a CUDA provider in this onnxruntime it stops at once with exit status 2 and says so;
``--dry-run`` runs the same code on the CPU provider with small counts (to check the script
where there is no GPU; its numbers are not GPU numbers). Run from the repository root::

    bench/gpu/run.sh                    # CUDA
    bench/gpu/run.sh --provider tensorrt
    bench/gpu/run.sh --dry-run          # no GPU: CPU, a few iterations
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

PROVIDERS = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
BATCHES = (1, 8, 32)
MODEL = "models/civicwatch-street-v5-batch.onnx"


@dataclass(frozen=True, slots=True)
class Timing:
    """One batch size: milliseconds per frame, end to end and for the network alone."""

    batch: int
    frame_ms: float
    network_ms: float

    @property
    def fps(self) -> float:
        return 1000.0 / self.frame_ms


def frames(count: int) -> list[np.ndarray]:
    """1280x720 frames of a textured clip with a moving square (written, then decoded)."""
    import av

    from tests.support.rtsp_server import write_test_clip

    with tempfile.TemporaryDirectory(prefix="gpu-bench-") as tmp:
        clip = write_test_clip(
            Path(tmp) / "street.mp4", frames=count, size_wh=(1280, 720), textured=True
        )
        with av.open(str(clip)) as container:
            return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def measure(detector: object, images: list[np.ndarray], batch: int, seconds: float) -> Timing:
    """Time ``detect_batch`` and the bare network on batches of ``batch`` images."""
    from edge.detectors.base import OnnxDetector

    assert isinstance(detector, OnnxDetector)
    chunk = [images[i % len(images)] for i in range(batch)]
    detector.detect_batch(chunk)  # warm-up (TensorRT builds its engine for the shape here)
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        detector.detect_batch(chunk)
        calls += 1
    frame_ms = 1000.0 * (time.perf_counter() - start) / (calls * batch)
    tensor = np.concatenate([detector.preprocess(image).tensor for image in chunk], axis=0)
    detector.onnx.run(tensor)
    runs, start = 0, time.perf_counter()
    while runs < 3 or time.perf_counter() - start < seconds:
        detector.onnx.run(tensor)
        runs += 1
    network_ms = 1000.0 * (time.perf_counter() - start) / (runs * batch)
    return Timing(batch, frame_ms, network_ms)


def table(timings: list[Timing], args: argparse.Namespace, providers: tuple[str, ...]) -> str:
    best = max(timings, key=lambda t: t.fps)
    stationary = int(best.fps * args.look_s)
    road = int(best.fps / args.road_fps)
    lines = [
        f"GPU bench ({'DRY RUN on the CPU: not GPU numbers' if args.dry_run else args.provider}),"
        f" {time.strftime('%Y-%m-%d %H:%M')} UTC, {platform.node()}, model `{args.model}`,"
        f" providers {list(providers)}",
        "",
        "| batch | per-frame latency ms (detect_batch) | network only ms/frame | frames/s |",
        "|---:|---:|---:|---:|",
        *(f"| {t.batch} | {t.frame_ms:.2f} | {t.network_ms:.2f} | {t.fps:.0f} |" for t in timings),
        "",
        f"Cameras per GPU at batch {best.batch} ({best.fps:.0f} frames/s, inference only): "
        f"**{stationary}** stationary cameras (a look every {args.look_s:g} s) or **{road}** "
        f"road cameras ({args.road_fps:g} fps).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--provider", choices=sorted(PROVIDERS), default="cuda")
    parser.add_argument("--model", default=MODEL, help="a registered batch-axis model")
    parser.add_argument("--seconds", type=float, default=10.0, help="timing per batch size")
    parser.add_argument("--look-s", type=float, default=4.0)
    parser.add_argument("--road-fps", type=float, default=5.0)
    parser.add_argument("--tensorrt-cache", default="var/tensorrt", help="engine cache folder")
    parser.add_argument("--dry-run", action="store_true", help="CPU provider, small counts")
    args = parser.parse_args(argv)

    import onnxruntime as ort

    from edge.detectors import create_detector
    from edge.detectors.plugins.yolo import YoloConfig
    from edge.registry import load_registry, verify_model

    available = ort.get_available_providers()
    wanted = PROVIDERS[args.provider]
    if not args.dry_run and wanted not in available:
        sys.stderr.write(
            f"error: no {wanted} in this onnxruntime {ort.__version__} (available: {available}):"
            " install onnxruntime-gpu with CUDA 12 and cuDNN 9 on a machine with an NVIDIA GPU,"
            " or run with --dry-run to check the script on the CPU\n"
        )
        return 2
    model = ROOT / args.model
    verify_model(model, load_registry(ROOT / "models" / "registry.yaml"))
    providers: list[str] = ["cpu"] if args.dry_run else [args.provider]
    if args.provider == "tensorrt" and not args.dry_run:
        providers.append("cuda")  # TensorRT falls back to CUDA for what it does not take
    seconds = 0.2 if args.dry_run else args.seconds
    batches = (1, 2) if args.dry_run else BATCHES
    detector = create_detector(
        YoloConfig(
            path=model,
            providers=providers,
            require_providers=not args.dry_run,
            max_batch=max(batches),
            tensorrt_cache_dir=Path(args.tensorrt_cache),
        )
    )
    images = frames(8 if args.dry_run else 64)
    timings = [measure(detector, images, b, seconds) for b in batches]
    sys.stdout.write(table(timings, args, detector.providers) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
