"""Capacity of one edge: how many RTSP cameras it analyses at their rate, and how fresh.

N cameras are served as real RTSP streams on loopback (GStreamer, ``tests/support/
rtsp_server.py``): a 1280x720 25 fps H.264 clip at about 3 Mbit/s with a keyframe every 2 s,
re-encoded here from the real 1280x720 plaza clip of the shared data (``videos/
lamminhthien_vtest_crowd.avi``: 341 frames, played at 25 fps) or, without the shared
data, from a rendered street of ``training.scenes`` with sensor noise added. Several server
processes, started a fraction of a keyframe interval apart, so that the cameras' keyframes
do not all land at once (real cameras are not in step).

Each run is one edge process (``edge.worker.EdgeWorker``, the config of ``configs/edge.yaml``
with the run's model, the outbox in a temp dir) with N cameras of two profiles:

* ``stationary``: one look every ``--look-s`` seconds (stalls, cross-door, construction);
* ``road``: 5 frames a second (trucks), always ``decode: all``;

configured one of two ways, back to back at the same N:

* ``tuned`` (the shipped scheduling): ``profile:`` on every camera, so stationary cameras
  decode only the due keyframes; looks on spread due times; batched inference across
  cameras (``--max-batch``) with the registered batch-axis model (``--model``, and
  ``--road-model`` for the road cameras); change gating on the stationary cameras;
* ``naive``: every frame decoded, one inference call per camera and frame, no gating, the
  default model, the same rates.

A camera holds when it analysed at least 90 % of its rate over the measured window and its
frame age (capture to the end of its analysis) has p99 <= 5 s (stationary) or <= 1 s (road).
N rises until a camera fails. Run from the repository root (each run under a minute and a
half; ``--steps`` chooses how many)::

    .venv/bin/python bench/bench_capacity.py --steps 8,32,64 --write
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from results_file import write_section  # noqa: E402

from tests.support.rtsp_server import RtspServer, rtsp_server_available  # noqa: E402

SECTION = "## Capacity"
SIZE_WH = (1280, 720)
FPS = 25
GOP = 50
BITRATE = 3_000_000
REAL_CLIPS = {
    "crowd": "videos/lamminhthien_vtest_crowd.avi",  # a busy plaza: every look changes
    "parking": "videos/intel_car-detection.mp4",  # a quiet car park, cars now and then
}
NAIVE_MODEL = "models/civicwatch-street-v5.onnx"
ROAD_FPS = 5.0
AGE_BOUND_S = {"stationary": 5.0, "road": 1.0}
RATE_HELD = 0.9


@dataclass(frozen=True, slots=True)
class CameraResult:
    """One camera of one run, over the measured window."""

    camera: str
    profile: str
    decode: str
    target_fps: float
    analysed: int
    rate_fps: float
    age_p50_s: float
    age_p99_s: float
    handover_p99_s: float
    frames_decoded: int
    reconnects: int
    window_s: float

    @property
    def held(self) -> bool:
        """90 % of the looks due in the window (rounded down: a look every 4 s gives 10 in
        40 s, of which one may fall just outside the window), and the age bound."""
        due = RATE_HELD * self.target_fps * self.window_s
        return (
            self.analysed >= math.floor(due + 1e-6) and self.age_p99_s <= AGE_BOUND_S[self.profile]
        )


@dataclass(frozen=True, slots=True)
class RunResult:
    """One edge process: its cameras and what the process used."""

    label: str
    cameras: list[CameraResult]
    window_s: float
    cpu_cores: float
    capture_cores: float
    rss_mib: float
    detect_ms: float
    load_avg: float
    servers_cores: float
    inferred_share: float
    mean_batch: float

    def group(self, profile: str) -> list[CameraResult]:
        return [c for c in self.cameras if c.profile == profile]

    @property
    def held(self) -> bool:
        return all(c.held for c in self.cameras)


# --------------------------------------------------------------------------------------
# The clip
# --------------------------------------------------------------------------------------


def make_clip(out: Path, shared: Path | None, name: str = "crowd") -> str:
    """Encode the served clip; returns a description of where it came from."""
    import av
    import cv2

    rng = np.random.default_rng(0)
    real = REAL_CLIPS[name]
    if shared is not None and (shared / real).is_file():
        source, step, noise, what = shared / real, 1, 0, f"real footage (`{real}`)"
    else:
        from training.scenes.scenarios import render_scenario

        source = out.with_name("rendered.mp4")
        render_scenario("stall_setup", source, seconds=12, seed=2024, fps=FPS, size=SIZE_WH)
        step, noise, what = 1, 6, "a rendered street (`training.scenes`, stall_setup) + noise"
    with av.open(str(source)) as src, av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=FPS)
        stream.width, stream.height = SIZE_WH
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = BITRATE
        stream.options = {
            "bf": "0", "g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0",
            "preset": "veryfast", "maxrate": str(BITRATE), "bufsize": str(2 * BITRATE),
        }  # fmt: skip
        for i, frame in enumerate(src.decode(video=0)):
            if i % step:
                continue
            img = cv2.resize(frame.to_ndarray(format="bgr24"), SIZE_WH)
            if noise:
                sensor = np.asarray(rng.integers(0, noise, img.shape), dtype=np.uint8)
                img = cv2.add(img, sensor)
            image = np.asarray(img, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    with av.open(str(out)) as probe:
        video = probe.streams.video[0]
        seconds = video.frames / FPS
        mbit = out.stat().st_size * 8 / max(seconds, 1e-6) / 1e6
    return f"{what}, {seconds:.1f} s looped, {mbit:.1f} Mbit/s"


# --------------------------------------------------------------------------------------
# The edge process (child)
# --------------------------------------------------------------------------------------

_STALL_ZONE = {
    "id": "pavement", "name": "Pavement", "kind": "no_vending",
    "polygon": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]],
    "objects": ["stall", "goods"], "dwell_s": 60, "inertia": 3,
}  # fmt: skip
_ROAD_ZONE = {
    "id": "road", "name": "Road", "kind": "road",
    "polygon": [[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]],
    "objects": ["truck"], "dwell_s": 0, "inertia": 2,
}  # fmt: skip


def edge_config(spec: dict[str, Any], work: Path) -> Any:
    """The edge config: ``configs/edge.yaml`` with the run's cameras and a temp outbox."""
    from edge.config import EdgeConfig

    data = yaml.safe_load((ROOT / "configs" / "edge.yaml").read_text(encoding="utf-8"))
    data["detector"]["path"] = str(ROOT / spec["model"])
    data["detector"]["max_batch"] = max(1, spec["max_batch"])
    data["model_registry"] = str(ROOT / data["model_registry"])
    data["outbox_path"] = str(work / "outbox.db")
    tuned = spec["mode"] == "tuned"
    scheduling: dict[str, Any] = {
        "max_batch": spec["max_batch"],
        "spread": tuned,
        "gating": {"enabled": tuned},
    }
    if spec.get("road_model"):
        scheduling["road_detector"] = {**data["detector"], "path": str(ROOT / spec["road_model"])}
    data["scheduling"] = scheduling
    cameras = []
    for cam in spec["cameras"]:
        zone = _ROAD_ZONE if cam["profile"] == "road" else _STALL_ZONE
        zones = work / f"{cam['id']}.yaml"
        zones.write_text(yaml.safe_dump({"camera_id": cam["id"], "zones": [zone]}), "utf-8")
        source = {"type": "rtsp", "url": cam["url"], "decode": cam["decode"]}
        camera = {
            "id": cam["id"],
            "source": source,
            "zones": str(zones),
            "analysis_fps": cam["fps"],
        }
        if tuned:
            camera["profile"] = cam["profile"]
        cameras.append(camera)
    data["cameras"] = cameras
    return EdgeConfig.model_validate(data)


def _cpu_s(stat_files: list[str]) -> float:
    """User + system CPU seconds of the processes or threads behind ``/proc/.../stat`` files."""
    total = 0.0
    for path in stat_files:
        try:
            fields = Path(path).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_child(spec_path: Path) -> None:
    """Run one edge with the spec's cameras; write per-camera results as JSON."""
    from edge.types import Frame
    from edge.worker import EdgeWorker

    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="capacity-edge-") as tmp:
        worker = EdgeWorker(edge_config(spec, Path(tmp)))
        seen: dict[str, list[tuple[float, float]]] = {p.camera.id: [] for p in worker.pipelines}
        for pipeline in worker.pipelines:
            process, log = pipeline.process, seen[pipeline.camera.id]

            def timed(frame: Frame, process: Any = process, log: Any = log) -> Any:
                events = process(frame)
                capture = frame.ts.timestamp()
                log.append((capture, time.time() - capture))
                return events

            pipeline.process = timed  # type: ignore[method-assign]
        worker.start()
        time.sleep(spec["warmup_s"])
        t0, cpu0 = time.time(), _cpu_s(["/proc/self/stat"])
        threads = [r._thread.native_id for r in worker.readers if r._thread is not None]
        capture = [f"/proc/self/task/{tid}/stat" for tid in threads if tid is not None]
        cap0 = _cpu_s(capture)
        frames0 = sum(p.times.frames for p in worker.pipelines)
        gated0 = sum(p.times.gated for p in worker.pipelines)
        detect0 = sum(p.times.detect_s for p in worker.pipelines)
        batches = worker.batches.stats if worker.batches is not None else None
        calls0, images0 = (batches.calls, batches.images) if batches else (0, 0)
        time.sleep(spec["window_s"])
        t1, cpu1 = time.time(), _cpu_s(["/proc/self/stat"])
        cap1 = _cpu_s(capture)
        frames = sum(p.times.frames for p in worker.pipelines) - frames0
        gated = sum(p.times.gated for p in worker.pipelines) - gated0
        detect = sum(p.times.detect_s for p in worker.pipelines) - detect0
        calls, images = (batches.calls - calls0, batches.images - images0) if batches else (0, 0)
        rss = _rss_mib()
        results = []
        for cam, reader in zip(spec["cameras"], worker.readers, strict=True):
            window = [(c, a) for c, a in seen[cam["id"]] if t0 <= c + a <= t1]
            ages = np.array([a for _, a in window]) if window else np.array([np.inf])
            stats = reader.stats()
            results.append(
                CameraResult(
                    camera=cam["id"],
                    profile=cam["profile"],
                    decode=cam["decode"],
                    target_fps=cam["fps"],
                    analysed=len(window),
                    rate_fps=len(window) / (t1 - t0),
                    age_p50_s=float(np.percentile(ages, 50)),
                    age_p99_s=float(np.percentile(ages, 99)),
                    handover_p99_s=stats.frame_age.p99_s or float("inf"),
                    frames_decoded=stats.source.frames_decoded,
                    reconnects=stats.source.reconnects,
                    window_s=t1 - t0,
                )
            )
        worker.stop()
    cpu = cpu1 - cpu0
    out = {
        "cameras": [asdict(r) for r in results],
        "window_s": t1 - t0,
        "cpu_cores": cpu / (t1 - t0),
        "capture_cores": (cap1 - cap0) / (t1 - t0),
        "rss_mib": rss,
        "detect_ms": 1000 * detect / (frames - gated) if frames > gated else float("nan"),
        "inferred_share": (frames - gated) / frames if frames else float("nan"),
        "mean_batch": images / calls if calls else 1.0,
    }
    Path(spec["out"]).write_text(json.dumps(out), encoding="utf-8")


# --------------------------------------------------------------------------------------
# The runs (parent)
# --------------------------------------------------------------------------------------


class Servers:
    """RTSP server processes serving the clip, started half a GOP apart."""

    def __init__(self, clip: Path, count: int) -> None:
        self.servers = [RtspServer(clip, loop=True) for _ in range(count)]
        for server in self.servers:
            server.start()
            time.sleep(GOP / FPS / count)

    def url(self, i: int) -> str:
        return self.servers[i % len(self.servers)].url

    def cpu_s(self) -> float:
        procs = [s._proc.pid for s in self.servers if s._proc is not None]
        return _cpu_s([f"/proc/{pid}/stat" for pid in procs])

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def run_edge(
    label: str,
    cameras: list[dict[str, Any]],
    servers: Servers,
    args: argparse.Namespace,
    mode: str = "tuned",
) -> RunResult | None:
    """One edge process with ``cameras``; ``None`` when it did not finish in time."""
    tuned = mode == "tuned"
    with tempfile.TemporaryDirectory(prefix="capacity-") as tmp:
        spec = {
            "cameras": cameras, "warmup_s": args.warmup_s, "window_s": args.window_s,
            "out": str(Path(tmp) / "result.json"), "mode": mode,
            "model": args.model if tuned else NAIVE_MODEL,
            "road_model": args.road_model if tuned else None,
            "max_batch": args.max_batch if tuned else 1,
        }  # fmt: skip
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        s0, w0 = servers.cpu_s(), time.time()
        limit_s = args.warmup_s + args.window_s + 120 + 1.5 * len(cameras)
        try:
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(spec_path)],
                capture_output=True, text=True, timeout=limit_s, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            print(f"| {label} | did not finish within {limit_s:.0f} s |", flush=True)
            return None
        servers_cores = (servers.cpu_s() - s0) / (time.time() - w0)
        if done.returncode != 0:
            raise RuntimeError(f"{label}: edge process failed: {done.stderr[-2000:]}")
        data = json.loads(Path(spec["out"]).read_text(encoding="utf-8"))
    result = RunResult(
        label=label,
        cameras=[CameraResult(**c) for c in data.pop("cameras")],
        load_avg=os.getloadavg()[0],
        servers_cores=servers_cores,
        **data,
    )
    print(row(result), flush=True)
    return result


def cameras_for(
    servers: Servers, stationary: int, decode: str, road: int, look_s: float
) -> list[dict[str, Any]]:
    """Stationary cameras with ``decode``, road cameras with ``decode: all``."""
    cams = [
        {"id": f"st-{i:03d}", "profile": "stationary", "decode": decode, "fps": 1 / look_s}
        for i in range(stationary)
    ] + [
        {"id": f"rd-{i:02d}", "profile": "road", "decode": "all", "fps": ROAD_FPS}
        for i in range(road)
    ]
    for i, cam in enumerate(cams):
        cam["url"] = servers.url(i)
    return cams


def _group_cell(cams: list[CameraResult]) -> str:
    if not cams:
        return "-"
    held = sum(c.held for c in cams)
    rate = min(c.rate_fps / c.target_fps for c in cams)
    p50 = float(np.median([c.age_p50_s for c in cams]))
    p99 = max(c.age_p99_s for c in cams)
    return f"{held}/{len(cams)} held (worst rate {rate:.0%}), age p50 {p50:.2f} s, p99 {p99:.2f} s"


def row(r: RunResult) -> str:
    return (
        f"| {r.label} | {len(r.group('stationary'))} | {len(r.group('road'))} "
        f"| {_group_cell(r.group('stationary'))} | {_group_cell(r.group('road'))} "
        f"| {'yes' if r.held else '**no**'} | {r.cpu_cores:.2f} ({r.capture_cores:.2f}) "
        f"| {r.rss_mib:.0f} | {r.detect_ms:.0f} | {r.inferred_share:.0%} | {r.mean_batch:.1f} "
        f"| {r.servers_cores:.2f} | {r.load_avg:.1f} |"
    )


def sweep(
    name: str, steps: list[int], make: Any, servers: Servers, args: argparse.Namespace
) -> tuple[list[RunResult], int]:
    """Run ``make(n)`` for each step until one fails; returns the runs and the last n held."""
    runs: list[RunResult] = []
    best = 0
    for n in steps:
        run = run_edge(f"{name} {n}", make(n), servers, args)
        if run is None or not run.held:
            if run is not None:
                runs.append(run)
            break
        runs.append(run)
        best = n
    return runs, best


def paired_sweep(
    steps: list[int], servers: Servers, args: argparse.Namespace
) -> tuple[list[RunResult], dict[str, int]]:
    """At each N, the tuned way then the naive way, back to back (the machine's load
    moves; neighbours in time compare fairly), each until it first fails."""
    runs: list[RunResult] = []
    best = {"tuned": 0, "naive": 0}
    failed: set[str] = set()
    for n in steps:
        for mode, decode in (("tuned", "keyframes"), ("naive", "all")):
            if mode in failed:
                continue
            cams = cameras_for(servers, n, decode, args.road_beside, args.look_s)
            run = run_edge(f"{mode} {n}+{args.road_beside}", cams, servers, args, mode)
            if run is None:
                failed.add(mode)
                continue
            runs.append(run)
            if run.held:
                best[mode] = n
            else:
                failed.add(mode)
        if failed == {"tuned", "naive"}:
            break
    return runs, best


def report(runs: list[RunResult], best: dict[str, int], clip: str, args: argparse.Namespace) -> str:
    header = (
        "| run | stationary | road | stationary cameras | road cameras | all held "
        "| edge CPU cores (capture threads) | RSS MiB | detect ms | inferred | batch "
        "| servers' cores | load |"
    )
    ratio = (
        f"ratio {best['tuned'] / best['naive']:.1f}x"
        if best["naive"]
        else "the naive way held none of the steps, so the ratio is above "
        f"{best['tuned']}/{min(int(n) for n in args.steps.split(','))}"
    )
    road = f" Road cameras held alone (tuned): **{best['road']}**." if "road" in best else ""
    lines = [
        SECTION, "",
        f"`bench/bench_capacity.py` ({' '.join(sys.argv[1:])}), {time.strftime('%Y-%m-%d %H:%M')}"
        f" UTC. Machine: {os.cpu_count()} CPUs ({platform.machine()}), shared with other "
        "engineers' jobs (load average in the last column). Streams: 1280x720, 25 fps, H.264, "
        f"keyframe every {GOP / FPS:g} s, {clip}, served over RTSP/TCP on loopback by "
        f"{args.servers} GStreamer processes (their CPU is in the servers' column, not the "
        f"edge's, but on the same two cores). One edge process per run; warm-up "
        f"{args.warmup_s:g} s, then a {args.window_s:g} s window. Stationary: one look every "
        f"{args.look_s:g} s; road: {ROAD_FPS:g} fps, `decode: all`. **tuned**: `profile:` "
        f"cameras (due keyframes only), spread looks, batches of up to {args.max_batch} with "
        f"`{args.model}`" + (f" (road: `{args.road_model}`)" if args.road_model else "")
        + ", change gating; **naive**: every frame decoded, one call per frame, no gating, "
        f"`{NAIVE_MODEL}`. Held: >= {RATE_HELD:.0%} of the rate and frame age (capture to the "
        "end of analysis) p99 <= 5 s (stationary) or <= 1 s (road). detect ms: wall time per "
        "inferred frame (waiting for a core and for the batch included); inferred: share of "
        "analysed frames that ran the detector (the rest re-used detections: nothing moved); "
        "batch: mean images per inference call.", "",
        header, "|" + "---|" * 13,
        *(row(r) for r in runs), "",
        f"- Stationary cameras held beside {args.road_beside} road camera(s): tuned "
        f"**{best['tuned']}**, naive **{best['naive']}**; {ratio}.{road}",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--look-s", type=float, default=4.0, help="stationary look interval")
    parser.add_argument("--steps", default="8,16,32,64,96,128,160")
    parser.add_argument("--road-steps", default="", help="road cameras alone (tuned), e.g. 4,8")
    parser.add_argument("--road-beside", type=int, default=8, help="road cameras in sweeps")
    parser.add_argument("--model", default="models/civicwatch-street-v4-batch.onnx")
    parser.add_argument("--road-model", default="models/civicwatch-street-v4-int8.onnx")
    parser.add_argument(
        "--goal", default="", help="extra tuned runs, stationary+road, e.g. 150+8,96+8"
    )
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--clip", choices=sorted(REAL_CLIPS), default="crowd")
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--warmup-s", type=float, default=15.0)
    parser.add_argument("--window-s", type=float, default=30.0)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args(argv)
    if args.child is not None:
        run_child(args.child)
        return 0
    reason = rtsp_server_available()
    if reason is not None:
        sys.stderr.write(f"cannot run: {reason}\n")
        return 2
    shared = Path(os.environ.get("CIVICWATCH_SHARED_DATA", ROOT.parent / "shared" / "data"))
    with tempfile.TemporaryDirectory(prefix="capacity-clip-") as tmp:
        clip_path = Path(tmp) / "street.mp4"
        clip = make_clip(clip_path, shared if shared.is_dir() else None, args.clip)
        print(f"clip: {clip}", flush=True)
        servers = Servers(clip_path, args.servers)
        try:
            stationary, best = paired_sweep([int(n) for n in args.steps.split(",")], servers, args)
            for goal in filter(None, args.goal.split(",")):
                n, r = (int(v) for v in goal.split("+"))
                cams = cameras_for(servers, n, "keyframes", r, args.look_s)
                goal_run = run_edge(f"tuned {n}+{r}", cams, servers, args, "tuned")
                if goal_run is not None:
                    stationary.append(goal_run)
            road: list[RunResult] = []
            if args.road_steps:
                road, best["road"] = sweep(
                    "road", [int(n) for n in args.road_steps.split(",")],
                    lambda n: cameras_for(servers, 0, "all", n, args.look_s), servers, args,
                )  # fmt: skip
        finally:
            servers.stop()
    text = report(stationary + road, best, clip, args)
    print(text)
    if args.write:
        write_section(text, heading=SECTION)
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
