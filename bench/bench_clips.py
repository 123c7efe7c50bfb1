"""Cost of event clips and time from a config publish to "applied" on a running edge.

1. **Packet ring, CPU per camera.** One real RTSP server on loopback (GStreamer, ``tests/
   support/rtsp_server.py``) serves the capacity bench's clip (1280x720, 25 fps, H.264 at about
   3 Mbit/s, a keyframe every 2 s). Pairs of reader processes read it at the same time, each
   an :class:`edge.sources.RtspSource` behind the edge's rate gate: one with a
   :class:`edge.clips.ring.PacketRing` attached (30 s kept), one without. Same stream, same
   run, side by side; CPU is each process's own (``time.process_time``, FFmpeg's decoder
   threads included) per second of stream. Both decode modes: ``keyframes`` (stationary
   cameras: due keyframes only, the cheapest reader, where a ring weighs most) and ``all``
   (road cameras).
2. **Clip size per second.** At the end each ring process cuts a ``pre_s`` + ``post_s``
   (10 + 10 s) clip from its ring (:func:`edge.clips.remux.write_mp4`, no re-encode): bytes,
   seconds, bytes per second, remux time.
3. **Picture signals.** CPU per analysed frame of the health monitor's two signals on a
   1280x720 frame of the stream: the frozen-picture thumbnail (every analysed frame) and the
   view signature and similarity (every ``view_check_interval_s``).
4. **Config publish to applied.** A real Mosquitto, the real edge runtime
   (:class:`edge.control.runtime.EdgeRuntime`, the project's detector, one RTSP camera at
   2 frames a second) and a plain MQTT client as the server: new zone versions are published
   retained, one every 2 s, and the time until the edge's status says it runs that version is
   measured (validation, the swap between two frames, the atomic write on disk, the status).

Run from the repository root (about three minutes)::

    .venv/bin/python bench/bench_clips.py --write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from results_file import write_section  # noqa: E402

SECTION = "## Event clips and live config"
RING_S = 30.0
PRE_S = POST_S = 10.0


# --------------------------------------------------------------------------------------
# 1 and 2: one reader process (child)
# --------------------------------------------------------------------------------------


def reader_child(url: str, seconds: float, decode: str, ring: bool, spool: Path) -> dict[str, Any]:
    """Read ``url`` for ``seconds`` like an edge camera does; with a ring, cut a clip at the end."""
    from edge.clips.remux import write_mp4
    from edge.clips.ring import PacketRing
    from edge.sources import RtspSource, RtspSourceConfig
    from edge.sources.timing import RateLimiter

    fps = 0.5 if decode == "keyframes" else 5.0
    source = RtspSource("bench", RtspSourceConfig(type="rtsp", url=url, decode=decode))
    source.gate(RateLimiter(fps))
    packet_ring = PacketRing(RING_S, 256 * 1024 * 1024) if ring else None
    source.attach_ring(packet_ring)
    stop = threading.Event()
    frames = 0
    cpu0, wall0 = time.process_time(), time.monotonic()
    first_packet_at: float | None = None
    generator = source.frames(stop)
    for _frame in generator:
        frames += 1
        if first_packet_at is None:
            first_packet_at = time.monotonic()
        if time.monotonic() - wall0 >= seconds:
            break
    generator.close()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    stats = source.stats()
    result: dict[str, Any] = {
        "ring": ring,
        "decode": decode,
        "cpu_s": cpu,
        "wall_s": wall,
        "packets": stats.packets_received,
        "frames": frames,
    }
    if packet_ring is not None:
        held = packet_ring.stats()
        result["ring_bytes"] = held.bytes
        result["ring_seconds"] = held.seconds
        end = time.time() - 0.5
        clip = packet_ring.window(end - POST_S - PRE_S, end)
        t0 = time.perf_counter()
        mp4 = write_mp4(clip, spool / f"clip-{os.getpid()}.mp4")
        result["remux_ms"] = 1000 * (time.perf_counter() - t0)
        result["clip_bytes"] = mp4.byte_size
        result["clip_s"] = mp4.duration_s
        result["clip_packets"] = mp4.packets
    return result


def ring_runs(
    url: str, seconds: float, pairs: int, decode: str, spool: Path
) -> list[dict[str, Any]]:
    """``pairs`` with-ring and without-ring readers of one stream, all at once."""
    processes = []
    for _ in range(pairs):
        for ring in (True, False):
            command = [
                sys.executable, __file__, "--child", "--url", url, "--seconds", str(seconds),
                "--decode", decode, "--spool", str(spool),
            ] + (["--ring"] if ring else [])  # fmt: skip
            processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT))
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=seconds + 120)
        if process.returncode != 0:
            raise RuntimeError(f"reader child failed ({process.returncode})")
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


# --------------------------------------------------------------------------------------
# 3: picture signals
# --------------------------------------------------------------------------------------


def picture_costs(clip: Path, repeats: int = 200) -> dict[str, float]:
    """Milliseconds per 1280x720 frame of each health picture signal (median of runs)."""
    import av
    import numpy as np

    from edge.health import thumbnail, view_signature, view_similarity

    with av.open(str(clip)) as container:
        frames = [
            np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
            for _, frame in zip(range(2), container.decode(video=0), strict=False)
        ]
    reference = view_signature(frames[0])

    def timed(work: Any) -> float:
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            work()
            samples.append(1000 * (time.perf_counter() - t0))
        return statistics.median(samples)

    return {
        "thumbnail_ms": timed(lambda: thumbnail(frames[1])),
        "view_ms": timed(lambda: view_similarity(view_signature(frames[1]), reference)),
    }


# --------------------------------------------------------------------------------------
# 4: config publish to applied
# --------------------------------------------------------------------------------------


def apply_runs(url: str, work: Path, count: int) -> dict[str, Any]:
    """Publish ``count`` zone versions to a running edge; seconds until each is applied."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from civicwatch.services import start_mosquitto
    from contracts import topics
    from contracts.control import ConfigStatus
    from edge.config import EdgeConfig
    from edge.control.runtime import EdgeRuntime
    from tests.edge.control.support import KERB, PAVEMENT, camera, config_message

    broker = start_mosquitto(work / "mosquitto")
    edge_id = "bench-edge"
    applied: dict[int, float] = {}
    lock = threading.Lock()

    def on_message(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        status = ConfigStatus.from_json(bytes(message.payload))
        with lock:
            if status.running_version is not None and status.state.value == "applied":
                applied.setdefault(status.running_version, time.monotonic())

    server = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="bench-server",
        protocol=mqtt.MQTTv5,
    )
    server.on_message = on_message
    server.connect(broker.host, broker.port)
    server.loop_start()
    server.subscribe(topics.status_topic(edge_id), qos=1)
    config = EdgeConfig.model_validate(
        {
            "edge_id": edge_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "detector": {"type": "yolo", "path": str(ROOT / "models/civicwatch-street-v4.onnx")},
            "model_registry": None,
            "outbox_path": str(work / "outbox.db"),
            "control": {
                "enabled": True,
                "state_dir": str(work / "control"),
                "profiles": {
                    "stationary": {"analysis_fps": 2.0, "decode": "all"},
                    "road": {"analysis_fps": 5.0, "decode": "all"},
                },
            },
            "snapshots": {"interval_s": 0, "directory": str(work / "snapshots")},
        }
    )
    runtime = EdgeRuntime(config)
    published: dict[int, float] = {}
    try:
        runtime.start()
        for version in range(1, count + 1):
            zones = (PAVEMENT,) if version % 2 else (PAVEMENT, KERB)
            message = config_message(
                edge_id, version, camera("cam-1", url, *zones, zone_version=version)
            )
            published[version] = time.monotonic()
            server.publish(topics.config_topic(edge_id), message.to_json(), qos=1, retain=True)
            deadline = time.monotonic() + 20
            while version not in applied and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(2.0 if version > 1 else 5.0)  # v1 starts the camera: let it stream
    finally:
        runtime.stop()
        server.publish(topics.config_topic(edge_id), b"", qos=1, retain=True).wait_for_publish(5)
        server.disconnect()
        server.loop_stop()
        broker.stop()
    first = applied.get(1, float("nan")) - published[1]
    swaps = [applied[v] - published[v] for v in range(2, count + 1) if v in applied]
    return {
        "first_s": first,
        "swap_median_s": statistics.median(swaps) if swaps else float("nan"),
        "swap_max_s": max(swaps) if swaps else float("nan"),
        "swaps": len(swaps),
        "missed": count - 1 - len(swaps),
    }


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def _per_s(results: list[dict[str, Any]], ring: bool) -> list[float]:
    return [1000 * r["cpu_s"] / r["wall_s"] for r in results if r["ring"] is ring]


def report(
    clip: str,
    modes: dict[str, list[dict[str, Any]]],
    picture: dict[str, float],
    apply: dict[str, Any],
    seconds: float,
) -> str:
    lines = [
        SECTION,
        "",
        f"`bench/bench_clips.py` ({time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"{os.cpu_count()} cores; a 2-core VM loaded by parallel work of other helpers, load "
        f"average {os.getloadavg()[0]:.1f} at the end). Stream: {clip}.",
        "",
        f"**Packet ring, CPU per camera** (reader processes side by side on one stream, "
        f"{seconds:.0f} s each; ring of {RING_S:.0f} s; CPU of the whole process per second "
        "of stream):",
        "",
        "| decode | readers | without ring ms/s | with ring ms/s | ring cost ms/s | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for decode, results in modes.items():
        plain, ringed = _per_s(results, False), _per_s(results, True)
        p, r = statistics.mean(plain), statistics.mean(ringed)
        lines.append(
            f"| {decode} | {len(plain)}+{len(ringed)} | {p:.1f} | {r:.1f} | {r - p:+.1f} | "
            f"{r / p:.2f}x |"
        )
    lines += [
        "",
        f"**Clip size** (cut {PRE_S:.0f} + {POST_S:.0f} s from the ring at the end, remuxed to "
        "MP4 without re-encoding):",
        "",
        "| decode | clip s | packets | bytes | kB per s | remux ms | ring held s / MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for decode, results in modes.items():
        for run in [run for run in results if run["ring"]][:2]:
            per_s = run["clip_bytes"] / 1000 / max(run["clip_s"], 1e-6)
            lines.append(
                f"| {decode} | {run['clip_s']:.1f} | {run['clip_packets']} | "
                f"{run['clip_bytes']:,} | {per_s:.0f} | {run['remux_ms']:.0f} | "
                f"{run['ring_seconds']:.1f} / {run['ring_bytes'] / 1e6:.1f} |"
            )
    lines += [
        "",
        "**Health picture signals** (CPU per 1280x720 frame, median of 200; edge/health.py):",
        "",
        "| frozen thumbnail, every analysed frame | view signature + similarity, every 30 s |",
        "|---|---|",
        f"| {picture['thumbnail_ms']:.2f} ms | {picture['view_ms']:.2f} ms |",
    ]
    lines += [
        "",
        "**Config publish to applied** (real Mosquitto, the edge runtime with the project's "
        "detector, one RTSP camera at 2 frames/s; a new zone version published retained every "
        "2 s; time until the edge's retained status says it runs it):",
        "",
        "| first config (camera added) s | zone swaps | median s | max s | not applied |",
        "|---|---|---|---|---|",
        f"| {apply['first_s']:.2f} | {apply['swaps']} | {apply['swap_median_s']:.3f} | "
        f"{apply['swap_max_s']:.3f} | {apply['missed']} |",
        "",
        "The first config adds the camera (the status comes when its reader has started, before "
        "its first frame); a zone swap waits only for the camera's frame in progress, and the "
        "camera's analysis goes on without a gap (tests/edge/control/test_control_live.py). "
        "The ring's cost is one copy of each packet into memory: the 'ring cost' column in CPU, "
        "the 'ring held' column in memory. A clip runs from the keyframe at or before its "
        "start (keyframes every 2 s here) to its end; a reader running behind the camera on "
        "the loaded box ends its clips at its newest packet (the edge's clip service waits "
        "up to 10 s more for it).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--decode", default="keyframes", help=argparse.SUPPRESS)
    parser.add_argument("--ring", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spool", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=45.0, help="seconds per reader run")
    parser.add_argument("--pairs", type=int, default=2, help="with/without-ring reader pairs")
    parser.add_argument("--swaps", type=int, default=10, help="config versions published")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    if args.child:
        result = reader_child(args.url, args.seconds, args.decode, args.ring, args.spool)
        print(json.dumps(result))
        return 0

    from bench_capacity import make_clip

    from tests.support.rtsp_server import RtspServer, rtsp_server_available

    reason = rtsp_server_available()
    if reason is not None:
        print(f"cannot run: {reason}")
        return 2
    shared = Path(os.environ.get("CIVICWATCH_SHARED_DATA", "/work/shared/data"))
    with tempfile.TemporaryDirectory(prefix="bench-clips-") as tmp:
        work = Path(tmp)
        clip_path = work / "stream.mp4"
        clip = make_clip(clip_path, shared if shared.is_dir() else None)
        print(f"stream: {clip}", flush=True)
        with RtspServer(clip_path) as server:
            modes: dict[str, list[dict[str, Any]]] = {}
            for decode in ("keyframes", "all"):
                modes[decode] = ring_runs(server.url, args.seconds, args.pairs, decode, work)
                print(decode, json.dumps(modes[decode]), flush=True)
            apply = apply_runs(server.url, work, args.swaps)
            print("apply", json.dumps(apply), flush=True)
        picture = picture_costs(clip_path)
        print("picture", json.dumps(picture), flush=True)
    text = report(clip, modes, picture, apply, args.seconds)
    print(text)
    if args.write:
        write_section(text, heading=SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
