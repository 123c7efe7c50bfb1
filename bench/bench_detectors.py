"""Per-frame cost of each detector plugin, stage by stage, against a bare ``session.run``.

For every model found (the COCO models in ``../shared/data/weights`` and every model in
the project's registry, side by side) and every thread count, one loop
alternates a full ``detect_timed`` (preprocess / ``session.run`` / postprocess) with a bare
``session.run`` on the same prepared tensor, so both see the same machine load.

Run::

    .venv/bin/python bench/bench_detectors.py              # print the table
    .venv/bin/python bench/bench_detectors.py --write      # and update bench/RESULTS.md

The frame is ``images/street.png`` from the shared data scaled to 1280x720 (a busy street:
many candidates, so postprocessing is not flattered).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from results_file import write_section  # noqa: E402

from edge.detectors import OnnxDetector, create_detector, parse_detector_config  # noqa: E402
from training.registry import load_registry  # noqa: E402

logger = logging.getLogger("bench_detectors")

SECTION = "## Detectors"
FRAME_WH = (1280, 720)


@dataclass(frozen=True)
class ModelSpec:
    type: str
    path: Path


@dataclass(frozen=True)
class Row:
    model: str
    input_wh: tuple[int, int]
    threads: int
    spinning: bool
    frames: int
    detections: int
    preprocess_ms: float
    inference_ms: float
    postprocess_ms: float
    total_ms: float
    total_p90_ms: float
    bare_ms: float


def shared_data_dir() -> Path:
    env = os.environ.get("CIVICWATCH_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def find_models(shared: Path) -> list[ModelSpec]:
    specs = [
        ModelSpec("yolox", shared / "weights" / "yolox_nano.onnx"),
        ModelSpec("nanodet", shared / "weights" / "nanodet_m.onnx"),
        ModelSpec("fastestdet", shared / "weights" / "FastestDet.onnx"),
    ]
    registry = load_registry()
    specs += [ModelSpec("yolo", registry.path_of(e)) for e in registry.models]
    return [s for s in specs if s.path.is_file()]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime as ort

    load = os.getloadavg()
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, onnxruntime {ort.__version__} "
        f"({', '.join(ort.get_available_providers())}), OpenCV {cv2.__version__}, "
        f"numpy {np.__version__}; load average at start {load[0]:.2f}, {load[1]:.2f}"
    )


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000.0


def bench_one(
    spec: ModelSpec, frame: np.ndarray, *, threads: int, spinning: bool, frames: int
) -> Row:
    config = parse_detector_config(
        {
            "type": spec.type,
            "path": str(spec.path),
            "intra_op_threads": threads,
            "intra_op_spinning": spinning,
            "warmup_runs": 3,
        }
    )
    detector = create_detector(config)
    assert isinstance(detector, OnnxDetector)
    session = detector.onnx.session
    input_name = detector.onnx.input.name
    tensor = detector.preprocess(frame).tensor
    pre, inf, post, total, bare = [], [], [], [], []
    count = 0
    for i in range(frames):
        # Alternate which goes first so neither always runs on a warmer cache.
        for turn in (0, 1) if i % 2 == 0 else (1, 0):
            if turn == 0:
                timed = detector.detect_timed(frame)
                pre.append(timed.preprocess_s)
                inf.append(timed.inference_s)
                post.append(timed.postprocess_s)
                total.append(timed.preprocess_s + timed.inference_s + timed.postprocess_s)
                count = len(timed.detections)
            else:
                t0 = time.perf_counter()
                session.run(None, {input_name: tensor})
                bare.append(time.perf_counter() - t0)
    return Row(
        model=spec.path.name,
        input_wh=detector.input_size,
        threads=threads,
        spinning=spinning,
        frames=frames,
        detections=count,
        preprocess_ms=_ms(pre),
        inference_ms=_ms(inf),
        postprocess_ms=_ms(post),
        total_ms=_ms(total),
        total_p90_ms=float(np.percentile(total, 90) * 1000.0),
        bare_ms=_ms(bare),
    )


def table(rows: list[Row]) -> str:
    lines = [
        "| model | input | threads | detections | preprocess | session.run | postprocess "
        "| detect total (p90) | bare session.run | pre + post vs bare |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        overhead = r.preprocess_ms + r.postprocess_ms
        lines.append(
            f"| {r.model} | {r.input_wh[0]}x{r.input_wh[1]} | {r.threads}"
            f"{' spinning' if r.spinning else ''} | {r.detections} "
            f"| {r.preprocess_ms:.2f} | {r.inference_ms:.2f} | {r.postprocess_ms:.2f} "
            f"| {r.total_ms:.2f} ({r.total_p90_ms:.2f}) | {r.bare_ms:.2f} "
            f"| {overhead:.2f} ({100.0 * overhead / r.bare_ms:.0f} %) |"
        )
    return "\n".join(lines)


def section(rows: list[Row], machine_line: str, frames: int) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""{SECTION}

`bench/bench_detectors.py` ({when}). One 1280x720 frame (`images/street.png` from the
shared data, scaled), {frames} iterations per row; each iteration runs the full
`detect` (split into preprocess / `session.run` / postprocess, which includes class-aware
NMS and the mapping back to frame pixels) and a bare `session.run` on the same prepared
tensor, alternating their order. Medians in milliseconds (p90 of the total in
brackets); CPU execution provider; threads = `intra_op_threads`, "spinning" =
`intra_op_spinning: true` (onnxruntime's default, off in our config). "pre + post vs bare"
is what the plugin adds around the network, as a share of the bare `session.run`.

Machine: {machine_line}. The machine is shared with other jobs, so absolute numbers
move between runs; the columns of one row were measured interleaved and compare fairly.

{table(rows)}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--frames", type=int, default=100, help="iterations per row")
    parser.add_argument(
        "--threads",
        default="1,2,2s",
        help="comma-separated intra-op thread counts to try; suffix s: with spin-waiting",
    )
    parser.add_argument("--shared-data", type=Path, default=shared_data_dir())
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    image_path = args.shared_data / "images" / "street.png"
    image = cv2.imread(str(image_path))
    if image is None:
        parser.error(f"cannot read {image_path} (set --shared-data or CIVICWATCH_SHARED_DATA)")
    frame = cv2.resize(image, FRAME_WH, interpolation=cv2.INTER_AREA)
    specs = find_models(args.shared_data)
    if not specs:
        parser.error("no model found")
    machine_line = machine()
    rows: list[Row] = []
    for spec in specs:
        for item in args.threads.split(","):
            threads, spinning = int(item.rstrip("s")), item.endswith("s")
            rows.append(
                bench_one(spec, frame, threads=threads, spinning=spinning, frames=args.frames)
            )
            sys.stdout.write(table(rows[-1:]).splitlines()[-1] + "\n")
            sys.stdout.flush()
    text = section(rows, machine_line, args.frames)
    sys.stdout.write("\n" + text)
    if args.write:
        write_section(text, heading=SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
