"""The plate reader on the real photos: exact reads against the by-eye truth, and its cost.

Every photo of ``tests/edge/plates/plates_truth.yaml`` (the three plate photos and the truck
checkpoint photos of ``../shared/data``, the truth read by eye from the plate or the photo's
burned-in header) is read whole by :class:`edge.plates.PlateReader` with each recogniser, as
the edge would read a truck's frame; a photo counts when the text is exactly the truth, and
where no plate can be read nothing must be read.

Run::

    .venv/bin/python bench/bench_plates.py              # print the tables
    .venv/bin/python bench/bench_plates.py --write      # and update bench/RESULTS.md
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

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from results_file import write_section  # noqa: E402

from edge.plates import PlateReader, PlateReading  # noqa: E402
from tests.edge.plates.real import (  # noqa: E402
    TRUTH,
    TruthPhoto,
    load_truth,
    photo,
    reader_settings,
)

SECTION = "## Plates"
RECOGNISERS = ("plate_rec.onnx", "plate_rec_small.onnx")
REPEATS = 3
"""Reads per photo for the timing (the median is reported)."""


@dataclass(frozen=True)
class Result:
    truth: TruthPhoto
    reading: PlateReading | None
    ms: float

    @property
    def right(self) -> bool:
        read = self.reading.text if self.reading is not None else None
        return read == self.truth.plate


def shared_data_dir() -> Path:
    env = os.environ.get("CIVICWATCH_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def run(shared: Path, recogniser: str) -> list[Result]:
    reader = PlateReader.from_settings(reader_settings(shared, recogniser))
    results: list[Result] = []
    for truth in load_truth().photos:
        image = photo(shared, truth.file)
        times: list[float] = []
        reading = None
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            reading = reader.read(image)
            times.append(time.perf_counter() - t0)
        results.append(Result(truth, reading, statistics.median(times) * 1000.0))
    return results


def summary(recogniser: str, results: list[Result]) -> str:
    readable = [r for r in results if r.truth.plate is not None]
    unreadable = [r for r in results if r.truth.plate is None]
    exact = sum(r.right for r in readable)
    colour = sum(
        r.reading is not None and r.reading.colour == r.truth.colour
        for r in readable
        if r.truth.colour
    )
    made_up = sum(r.reading is not None for r in unreadable)
    ms = statistics.median(r.ms for r in results)
    return (
        f"| `{recogniser}` | {exact} / {len(readable)} ({100 * exact / len(readable):.0f} %) "
        f"| {colour} / {sum(1 for r in readable if r.truth.colour)} | {made_up} / "
        f"{len(unreadable)} | {ms:.0f} |"
    )


def per_photo(results: dict[str, list[Result]]) -> str:
    names = list(results)
    lines = [
        "| photo | truth | " + " | ".join(f"`{n}`" for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for k, first in enumerate(results[names[0]]):
        cells = []
        for name in names:
            r = results[name][k]
            read = "-" if r.reading is None else f"{r.reading.text} {r.reading.colour}"
            conf = "" if r.reading is None else f" ({r.reading.confidence:.2f})"
            cells.append(f"{read}{conf} {'ok' if r.right else 'WRONG'}")
        truth = first.truth.plate or "none readable"
        lines.append(f"| `{first.truth.file}` | {truth} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(results: dict[str, list[Result]]) -> str:
    import onnxruntime as ort

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()
    return "\n".join(
        [
            SECTION,
            "",
            f"`bench/bench_plates.py` ({now}). Machine: {platform.machine()}, "
            f"{os.cpu_count()} logical CPUs; Python {platform.python_version()}, onnxruntime "
            f"{ort.__version__}, one intra-op thread; load average at start {load[0]:.2f}, "
            f"{load[1]:.2f} (shared machine: times move between runs).",
            "",
            "The optional `plate_reader` of the muck-truck rule (`edge/plates`): "
            "`plate_detect.onnx` (4 corners, single / double row) and a CTC recogniser, from "
            "`../shared/data/weights/plates` (GPL-3.0 upstream, never shipped). Each photo of "
            f"`{TRUTH.relative_to(REPO)}` is read whole, as a truck's frame would be; the truth "
            "is read by eye (the plate itself, or the checkpoint photo's burned-in 车牌号 "
            "header); the two photos whose header says 无车牌 must give no reading. A reading "
            "counts only with the form of a civil plate and confidence >= 0.5 (the defaults). "
            "On the edge the reader runs once per truck case, when it starts, on up to three "
            "crops of the truck (`plate_reader.frames`): about three times the time below, once "
            "per case, never per frame.",
            "",
            "| recogniser | read exactly (readable plates) | colour right | "
            "plate made up where none is readable | median ms / photo |",
            "|---|---|---|---|---|",
            *(summary(name, rs) for name, rs in results.items()),
            "",
            per_photo(results),
            "",
            *misses(results),
        ]
    )


def misses(results: dict[str, list[Result]]) -> list[str]:
    """One line per photo some recogniser gets wrong, with where its truth comes from."""
    wrong = {r.truth.file: r.truth.how for rs in results.values() for r in rs if not r.right}
    if not wrong:
        return []
    lines = [f"- `{file}`: truth from {how}." for file, how in wrong.items()]
    return ["Wrong or missing reads:", "", *lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--shared-data", type=Path, default=shared_data_dir())
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not (args.shared_data / "weights" / "plates" / "plate_detect.onnx").is_file():
        parser.error(f"no plate models under {args.shared_data} (set CIVICWATCH_SHARED_DATA)")
    results = {name: run(args.shared_data, name) for name in RECOGNISERS}
    text = section(results)
    sys.stdout.write(text)
    if args.write:
        write_section(text, heading=SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
