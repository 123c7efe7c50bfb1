"""Benchmark of the RTSP source: open time and decode cost, on a real loopback stream.

A 1280x720 H.264 25 fps clip (made here, keyframe every 2 s) is served by GStreamer's RTSP
server on 127.0.0.1 (re-streamed without re-encoding, see ``tests/support/rtsp_server.py``)
and read back through :class:`edge.sources.RtspSource`, side by side in one run:

* open time of ``av.open`` with FFmpeg's default probing and with ``fast_probe``
  (``analyzeduration``/``probesize``), and the time to the first decoded frame;
* decode cost of full decoding vs keyframes only (CPU of this process, all threads, per
  wall second, and frames per second), plus full decoding without the BGR conversion
  (bare PyAV) to show what the conversion costs.

Run from the repository root::

    .venv/bin/python bench/bench_sources.py            # about 1.5 minutes
    .venv/bin/python bench/bench_sources.py --write     # also update bench/RESULTS.md

Needs the Debian GStreamer packages named in ``tests/support/rtsp_server.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import av  # noqa: E402
from results_file import RESULTS, write_section  # noqa: E402

from edge.sources import FAST_PROBE_OPTIONS, RtspSource, RtspSourceConfig  # noqa: E402
from tests.support.rtsp_server import (  # noqa: E402
    RtspServer,
    rtsp_server_available,
    write_test_clip,
)

SECTION = "## Sources"


@dataclass(frozen=True)
class OpenTiming:
    open_s: list[float]
    first_frame_s: list[float]


@dataclass(frozen=True)
class DecodeCost:
    name: str
    frames: int
    wall_s: float
    cpu_s: float

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s

    @property
    def cpu_percent(self) -> float:
        """Share of one core used by this process while reading."""
        return 100.0 * self.cpu_s / self.wall_s

    @property
    def cpu_ms_per_frame(self) -> float:
        return 1000.0 * self.cpu_s / self.frames if self.frames else float("nan")


def measure_open(url: str, fast_probe: bool) -> tuple[float, float]:
    """One open: seconds until ``av.open`` returns, and until the first decoded frame."""
    source = RtspSource("bench", RtspSourceConfig(type="rtsp", url=url, fast_probe=fast_probe))
    started = time.perf_counter()
    container = source.open()
    opened = time.perf_counter() - started
    try:
        for _ in container.decode(video=0):
            return opened, time.perf_counter() - started
    finally:
        container.close()
    raise RuntimeError("the stream ended before its first frame")


class _Meter:
    """Counts frames and the wall and CPU time from the first frame on."""

    def __init__(self, duration_s: float, stop: threading.Event) -> None:
        self.duration_s = duration_s
        self.stop = stop
        self.frames = -1  # the first frame starts the clock and is not counted
        self.wall0 = self.cpu0 = 0.0

    def tick(self) -> None:
        if self.frames < 0:
            self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
            threading.Timer(self.duration_s, self.stop.set).start()
        self.frames += 1


def measure_decode(
    name: str, read: Callable[[threading.Event, Callable[[], None]], None], duration_s: float
) -> DecodeCost:
    """Run ``read`` for ``duration_s`` of wall time counted from its first frame."""
    stop = threading.Event()
    meter = _Meter(duration_s, stop)
    read(stop, meter.tick)
    wall, cpu = time.perf_counter() - meter.wall0, time.process_time() - meter.cpu0
    return DecodeCost(name=name, frames=meter.frames, wall_s=wall, cpu_s=cpu)


def read_with_source(
    url: str, keyframes_only: bool
) -> Callable[[threading.Event, Callable[[], None]], None]:
    def read(stop: threading.Event, tick: Callable[[], None]) -> None:
        decode = "keyframes" if keyframes_only else "all"
        cfg = RtspSourceConfig(type="rtsp", url=url, decode=decode)
        for _ in RtspSource("bench", cfg).frames(stop):
            tick()

    return read


def read_bare_yuv(url: str) -> Callable[[threading.Event, Callable[[], None]], None]:
    """Full decoding with PyAV and no conversion to BGR numpy arrays."""

    def read(stop: threading.Event, tick: Callable[[], None]) -> None:
        options = {"rtsp_transport": "tcp", **FAST_PROBE_OPTIONS}
        container = av.open(url, options=options, timeout=(5.0, 5.0))
        try:
            for _ in container.decode(video=0):
                tick()
                if stop.is_set():
                    break
        finally:
            container.close()

    return read


def _ms(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):.0f} ms (min {1000 * min(values):.0f})"


def report(
    opens: dict[bool, OpenTiming], costs: list[DecodeCost], clip_info: str, repeats: int
) -> str:
    load = os.getloadavg()
    lines = [
        SECTION,
        "",
        f"`bench/bench_sources.py`, {time.strftime('%Y-%m-%d')}: {clip_info}, served by "
        "GStreamer's RTSP server on loopback (re-streamed, not re-encoded), read over "
        "RTSP/TCP by `edge.sources.RtspSource` (PyAV "
        f"{av.__version__}, libavformat {'.'.join(map(str, av.library_versions['libavformat']))}). "
        f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"load average {load[0]:.1f} at the end (cores shared with other jobs; CPU "
        "is this process's own CPU time, all threads, so others' load inflates it little).",
        "",
        f"Open time, median of {repeats} opens each, alternating, each after a random "
        "pause (a random phase in the keyframe interval):",
        "",
        "| probing | `av.open` returns | first decoded frame |",
        "|---|---|---|",
    ]
    for fast in (False, True):
        label = "fast_probe (analyzeduration=100000, probesize=32)" if fast else "FFmpeg default"
        lines.append(f"| {label} | {_ms(opens[fast].open_s)} | {_ms(opens[fast].first_frame_s)} |")
    lines += [
        "",
        "The first frame waits for the next keyframe (every 2 s in this clip, so about "
        "1 s on average) whatever the probing; a camera sends SPS/PPS in the SDP, so the "
        "probing is pure delay.",
        "",
        "Decode cost:",
        "",
        "| mode | frames/s | CPU (% of one core) | CPU per frame |",
        "|---|---|---|---|",
    ]
    for cost in costs:
        lines.append(
            f"| {cost.name} | {cost.fps:.1f} | {cost.cpu_percent:.1f} % | "
            f"{cost.cpu_ms_per_frame:.1f} ms |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per decode mode")
    parser.add_argument("--opens", type=int, default=7, help="opens per probing mode")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()

    reason = rtsp_server_available()
    if reason is not None:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-sources-") as tmp:
        clip = write_test_clip(
            Path(tmp) / "720p.mp4", frames=250, size_wh=(1280, 720), fps=25, gop=50,
            textured=True,
        )  # fmt: skip
        mbps = clip.stat().st_size * 8 / 10 / 1e6
        clip_info = f"1280x720 H.264 25 fps, keyframe every 2 s, {mbps:.1f} Mbit/s, looped"
        print(clip_info, flush=True)
        with RtspServer(clip, loop=True) as server:
            url = server.url
            opens = {False: OpenTiming([], []), True: OpenTiming([], [])}
            rng = random.Random(0)
            for _ in range(args.opens):
                for fast in (False, True):
                    time.sleep(rng.uniform(0.0, 2.0))  # a random phase in the 2 s GOP
                    opened, first = measure_open(url, fast)
                    opens[fast].open_s.append(opened)
                    opens[fast].first_frame_s.append(first)
            print("opens done", flush=True)
            costs = [
                measure_decode("full decode + BGR", read_with_source(url, False), args.seconds),
                measure_decode("keyframes only + BGR", read_with_source(url, True), args.seconds),
                measure_decode("full decode, YUV (bare PyAV)", read_bare_yuv(url), args.seconds),
            ]
    text = report(opens, costs, clip_info, args.opens)
    print(text)
    if args.write:
        write_section(text, heading=SECTION)
        print(f"wrote the {SECTION!r} section of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
