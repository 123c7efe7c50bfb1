"""Benchmark: the edge pipeline on one 1280x720 H.264 RTSP stream, and rule-to-case latency.

Part 1, throughput. A rendered 1280x720 street clip (25 fps) is served over real RTSP on
loopback; the edge's ``RtspSource`` decodes it (CPU time of the decode thread per frame)
and every frame it delivers is analysed as fast as possible with the default model:
preprocess / ``session.run`` / postprocess (``detect_timed``), tracking and rules. The same
prepared tensor also goes through a bare ``session.run`` right after, for comparison.
Reported: frames analysed per second and each stage's share of the time per frame.

Part 2, latency. A ``CameraPipeline`` emits stall events (evidence rendered, JPEGs hashed,
outbox write), its ``Publisher`` sends them through a real Mosquitto to the server's
in-process ingest writing SQLite. Latency = the case row's commit minus the moment the
rule fired (before evidence rendering), median and p99.

Usage::

    .venv/bin/python bench/bench_pipeline.py --frames 150 --events 100

A measurement, not a test; results go to ``bench/RESULTS.md`` by hand.
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_ingest import start_ingest  # noqa: E402

from civicwatch.services import start_mosquitto  # noqa: E402
from contracts import (  # noqa: E402
    EventPhase,
    ModelRef,
    ViolationType,
)
from edge.analysis import Analyzer  # noqa: E402
from edge.config import EdgeConfig  # noqa: E402
from edge.detectors import create_detector  # noqa: E402
from edge.detectors.base import OnnxDetector, TimedDetections  # noqa: E402
from edge.mqtt import Publisher  # noqa: E402
from edge.outbox import Outbox  # noqa: E402
from edge.rules import RuleEvent  # noqa: E402
from edge.sources import RtspSource, RtspSourceConfig  # noqa: E402
from edge.types import Detections, Frame, ImageArray  # noqa: E402
from edge.worker import CameraPipeline  # noqa: E402
from tests.support.rtsp_server import serve_rtsp  # noqa: E402
from training.registry import default_model  # noqa: E402
from zones.config import load_zone_file  # noqa: E402

MODEL = default_model()
ZONES = REPO / "configs" / "zones" / "demo-cam.yaml"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


class TimedDetector:
    """The detector, keeping each call's preprocess / ``session.run`` / postprocess times.

    The Analyzer calls ``detect``; this runs ``detect_timed`` instead (the same stages) and
    keeps the split, so the bench measures the shipped loop and still reports every stage.
    """

    def __init__(self, detector: OnnxDetector[Any]) -> None:
        self.inner = detector
        self.last: TimedDetections | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return self.inner.names

    @property
    def model(self) -> ModelRef:
        return self.inner.model

    @property
    def input_size(self) -> tuple[int, int]:
        return self.inner.input_size

    @property
    def providers(self) -> tuple[str, ...]:
        return self.inner.providers

    def detect(self, image: ImageArray) -> Detections:
        self.last = self.inner.detect_timed(image)
        return self.last.detections


def throughput(work: Path, frames: int) -> None:
    from training.scenes import render_scenario

    clip = work / "stall_1280x720.mp4"
    t = time.perf_counter()
    render_scenario("stall_setup", clip, seconds=20, seed=2024, fps=25, size=(1280, 720))
    print(f"rendered 20 s 1280x720 clip in {time.perf_counter() - t:.1f} s", flush=True)

    config = EdgeConfig.model_validate(
        {
            "edge_id": "bench",
            "detector": {"type": "yolo", "path": str(MODEL)},
            "cameras": [
                {
                    "id": "demo-cam",
                    "source": {"type": "file", "path": str(clip)},
                    "zones": str(ZONES),
                }
            ],
        }
    )
    detector = create_detector(config.detector)
    assert isinstance(detector, OnnxDetector)
    timed = TimedDetector(detector)
    # the edge's own analysis, set up as the worker sets it up from the config
    analyzer = Analyzer(
        zones=load_zone_file(ZONES),
        detector=timed,
        label_map=config.label_map,
        tracker=config.tracker,
        settings=config.rules,
    )

    decode_cpu: list[float] = []
    stages: dict[str, list[float]] = {
        k: [] for k in ("pre", "infer", "post", "labels", "track", "rules")
    }
    bare: list[float] = []
    stop = threading.Event()
    with serve_rtsp(clip, loop=True) as url:
        source = RtspSource("demo-cam", RtspSourceConfig(type="rtsp", url=url))
        gen = source.frames(stop)
        first = next(gen)  # connection and probing are not part of the steady state
        t_start = time.perf_counter()
        frame: Frame = first
        for _ in range(frames):
            c0 = time.thread_time()
            frame = next(gen)
            decode_cpu.append(time.thread_time() - c0)
            analysis = analyzer.analyse(frame)
            assert timed.last is not None
            split = timed.last
            stages["pre"].append(split.preprocess_s)
            stages["infer"].append(split.inference_s)
            stages["post"].append(split.postprocess_s)
            detect_s = split.preprocess_s + split.inference_s + split.postprocess_s
            stages["labels"].append(max(0.0, analysis.detect_s - detect_s))
            stages["track"].append(analysis.track_s)
            stages["rules"].append(analysis.rules_s)
            prepared = detector.preprocess(frame.image)
            b0 = time.perf_counter()
            detector.infer(prepared)
            bare.append(time.perf_counter() - b0)
        wall = time.perf_counter() - t_start - sum(bare)
        stop.set()
        gen.close()
    per_frame = {k: statistics.mean(v) * 1000 for k, v in stages.items()}
    per_frame["decode"] = statistics.mean(decode_cpu) * 1000
    total = sum(per_frame.values())
    print(f"\nRTSP 1280x720 25 fps, {frames} frames, model {MODEL.name}")
    print(
        f"pipeline capacity {1000 / total:.1f} frames/s (1000 / per-frame total); observed "
        f"{frames / wall:.1f} frames/s while reading the 25 fps stream (bounded by the "
        "stream once the GOP buffered at connect is consumed)"
    )
    print("| stage | ms per frame (mean) | share |")
    print("|---|---|---|")
    for name in ("decode", "pre", "infer", "post", "labels", "track", "rules"):
        print(f"| {name} | {per_frame[name]:.2f} | {per_frame[name] / total:.0%} |")
    print(f"| total | {total:.2f} | 100% |")
    print(
        f"bare session.run: median {statistics.median(bare) * 1000:.2f} ms vs "
        f"detector inference median {statistics.median(stages['infer']) * 1000:.2f} ms"
    )


def latency(work: Path, events: int, rate: float) -> None:
    broker = start_mosquitto(work / "mosquitto")
    server = start_ingest(work, host=broker.host, port=broker.port)
    metrics = server.metrics
    config = EdgeConfig.model_validate(
        {
            "edge_id": "bench-edge",
            "mqtt": {"host": broker.host, "port": broker.port},
            "detector": {"type": "yolo", "path": str(MODEL)},
            "outbox_path": str(work / "outbox.db"),
            "cameras": [
                {"id": "demo-cam", "source": {"type": "file", "path": "x.mp4"}, "zones": str(ZONES)}
            ],
        }
    )
    outbox = Outbox(config.outbox_path)
    pipeline = CameraPipeline(
        config=config,
        camera=config.cameras[0],
        zones=load_zone_file(ZONES),
        detector=create_detector(config.detector),
        outbox=outbox,
    )
    publisher = Publisher(edge_id=config.edge_id, config=config.mqtt, outbox=outbox)
    publisher.start()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    t0 = datetime.now(UTC)
    fired: list[float] = []
    try:
        for i in range(events):
            ts = t0 + timedelta(seconds=i)
            frame = Frame("demo-cam", i, ts, image)
            event = RuleEvent(
                event_id=uuid.uuid4().hex,
                phase=EventPhase.START,
                camera_id="demo-cam",
                zone_id="pavement",
                rule="stall_dwell",
                violation_type=ViolationType.STREET_STALL,
                label="stall",
                confidence=0.9,
                xyxy=np.array([600, 420, 700, 520], np.float32),
                tracker_id=i,
                first_seen=ts - timedelta(seconds=60),
                last_seen=ts,
                dwell_s=60.0,
            )
            fired.append(time.perf_counter())
            pipeline.emit([event], frame)
            time.sleep(max(0.0, fired[-1] + 1 / rate - time.perf_counter()))
        if not metrics.wait_for(events, 120):
            raise SystemExit(f"only {len(metrics.event_done)} of {events} cases committed")
        lat = [(d - f) * 1000 for d, f in zip(metrics.event_done, fired, strict=True)]
        print(
            f"\nrule fired -> case row committed ({events} events at {rate:g}/s, 1280x720 "
            f"evidence, SQLite): median {statistics.median(lat):.1f} ms, "
            f"p99 {pct(lat, 99):.1f} ms, max {max(lat):.1f} ms"
        )
    finally:
        publisher.stop()
        server.stop()
        broker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=150, help="frames analysed in part 1")
    parser.add_argument("--events", type=int, default=100, help="events in part 2")
    parser.add_argument("--rate", type=float, default=10.0, help="events per second in part 2")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{__import__('os').cpu_count()} CPUs, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        work = Path(tmp)
        throughput(work, args.frames)
        latency(work, args.events, args.rate)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
