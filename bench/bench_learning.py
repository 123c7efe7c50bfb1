"""Learning from review, end to end: does one retraining on reviewed cases cut false cases?

The loop of tests/support/learning_loop.py with larger sizes: the registry's default model at
the edge's threshold over the real no-violation clips of the shared data (every stall or
goods box there is false) and rendered scenes with stalls; each frame's most confident
stall/goods box is a case, ingested by the server's own code into a real database and
evidence store; a scripted reviewer judges from the truth (confirm and fix, or reject as
wrong_object, add missed boxes); ``dataset export``; a short fine-tune from the default on
the export mixed with rendered scenes; ``models gate`` (reviewed test split + held-out
scenes); then both models replay the same real clips: false stall/goods boxes per
camera-hour (at the edge's analysis rate), side by side in one run.

Run from the repository root (the shared data must be present)::

    .venv/bin/python bench/bench_learning.py --write
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from results_file import write_section

from tests.support.learning_loop import LoopParams, run_loop

HEADING = "## Learning from review"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames-per-clip", type=int, default=20)
    parser.add_argument("--scenes", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--lr0", type=float, default=0.0005)
    parser.add_argument("--write", action="store_true", help="rewrite the RESULTS.md section")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    shared = Path(
        os.environ.get(
            "CIVICWATCH_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    if not (shared / "videos").is_dir():
        sys.stderr.write(f"skipped: no real clips at {shared}\n")
        return 3
    params = LoopParams(
        frames_per_clip=args.frames_per_clip,
        scenes=args.scenes,
        train_scenes=args.scenes,
        holdout_scenes=30,
        epochs=args.epochs,
        imgsz=args.imgsz,
        lr0=args.lr0,
    )
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-learning-") as tmp:
        work = Path(tmp)
        from training.offline import configure_offline

        config_dir = configure_offline(work / "ultralytics")
        result = run_loop(work, shared, params, config_dir)
        gate = json.loads(result.gate_json.read_text())
        gate_md = result.gate_md.read_text()
    wall = time.monotonic() - started
    per_hour = result.false_per_hour
    checks = gate["decision"]["checks"]
    failures = [c for c in checks if not c["passed"]]
    lines = [
        HEADING,
        "",
        f"`.venv/bin/python bench/bench_learning.py --write` ({time.strftime('%Y-%m-%d')}, "
        f"{platform.machine()} {os.cpu_count()}-core VM shared with parallel work, load "
        f"{load_before[0]:.1f} at start; {wall / 60:.1f} min in all, training "
        f"{result.train_s / 60:.1f} min). One run, both models side by side on the same frames.",
        "",
        f"* cases from the default (`{result.default.name}`) at the edge threshold: {result.cases} "
        f"(real no-violation clips, {params.frames_per_clip} analysed frames per clip, and "
        f"{params.scenes} rendered scenes); scripted review: {result.review.confirmed} confirmed "
        f"({result.review.boxes_fixed} boxes moved onto the truth), "
        f"{result.review.rejected_wrong_object} rejected as wrong_object, "
        f"{result.review.boxes_added} missed stall/goods boxes added",
        f"* export: {sum(result.export.frames.values())} frames "
        f"({', '.join(f'{k} {v}' for k, v in result.export.frames.items())}), "
        f"{result.export.kinds.get('hard_negative', 0)} hard negatives, "
        f"{len(result.export.skipped)} left out",
        f"* training: {params.epochs} epochs at {params.imgsz} px, lr0 {params.lr0}, from the "
        f"default, export frames x2 + {params.train_scenes} rendered scenes; candidate exported "
        "at the default's input size",
        "",
        "| replay of the real no-violation clips | default | candidate |",
        "|---|---:|---:|",
        f"| false stall/goods boxes | {result.false_default} | {result.false_candidate} |",
        f"| per camera-hour ({result.camera_hours * 60:.1f} camera-minutes at the analysis rate) "
        f"| {per_hour[0]:.0f} | {per_hour[1]:.0f} |",
        f"| held-out rendered mAP50 ({params.holdout_scenes} scenes) | "
        f"{result.holdout_map50_default:.3f} | {result.holdout_map50_candidate:.3f} |",
        "",
        f"Gate: **{'passed' if result.gate_passed else 'failed'}**"
        + (
            " ("
            + "; ".join(
                f"{c['material']} {c['name']} {c['candidate']:.3f} vs {c['against']:.3f}"
                for c in failures
            )
            + ")"
            if failures
            else ""
        )
        + ". The replay uses the cameras the reviewed cases came from (the issue's \"next "
        "replay\"), so it is not a held-out figure; the gate's reviewed test split is.",
        "",
        "<details><summary>gate report</summary>",
        "",
        gate_md.replace("# Model gate", "#### Model gate"),
        "</details>",
        "",
    ]
    text = "\n".join(lines)
    sys.stdout.write(text + "\n")
    if args.write:
        write_section(text, heading=HEADING)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
