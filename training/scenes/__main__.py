"""Command line of the scene generator.

Examples::

    python -m training.scenes dataset --out var/datasets/street --count 1200 --seed 1 --imgsz 320
    python -m training.scenes video --scenario stall_setup --out var/stall.mp4 --seconds 40 --seed 3
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from training.scenes.dataset import write_dataset


def _dataset(args: argparse.Namespace) -> int:
    summary = write_dataset(
        Path(args.out),
        count=args.count,
        seed=args.seed,
        imgsz=args.imgsz,
        val_fraction=args.val_fraction,
        workers=args.workers,
    )
    sys.stdout.write(summary.model_dump_json(indent=2) + "\n")
    return 0


def _video(args: argparse.Namespace) -> int:
    from training.scenes.scenarios import SCENARIOS, render_scenario

    if args.scenario not in SCENARIOS:
        sys.stderr.write(
            f"unknown scenario {args.scenario!r}; choose from {', '.join(SCENARIOS)}\n"
        )
        return 2
    truth = render_scenario(
        args.scenario,
        Path(args.out),
        seconds=args.seconds,
        seed=args.seed,
        fps=args.fps,
        size=(args.width, args.height),
    )
    sys.stdout.write(
        f"wrote {args.out} and {truth.timeline_path(Path(args.out))}: {truth.frame_count} frames, "
        f"{len(truth.objects)} objects\n"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m training.scenes`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m training.scenes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dataset", help="render a YOLO-format dataset of still images")
    d.add_argument("--out", required=True, help="output folder")
    d.add_argument("--count", type=int, required=True, help="number of images")
    d.add_argument("--seed", type=int, required=True, help="base seed (image i uses (seed, i))")
    d.add_argument("--imgsz", type=int, default=320, help="image width in pixels (default 320)")
    d.add_argument(
        "--val-fraction", type=float, default=0.15, help="share put in val (default 0.15)"
    )
    d.add_argument("--workers", type=int, default=1, help="render processes (default 1)")
    d.set_defaults(func=_dataset)
    v = sub.add_parser(
        "video", help="render a scripted scenario clip with its ground-truth timeline"
    )
    v.add_argument(
        "--scenario", required=True, help="stall_setup, goods_spill, open_truck, net_removed"
    )
    v.add_argument(
        "--out", required=True, help="output .mp4 (the timeline goes beside it as .json)"
    )
    v.add_argument("--seconds", type=float, default=40.0, help="clip length (default 40)")
    v.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    v.add_argument("--fps", type=int, default=10, help="frames per second (default 10)")
    v.add_argument("--width", type=int, default=960, help="frame width (default 960)")
    v.add_argument("--height", type=int, default=540, help="frame height (default 540)")
    v.set_defaults(func=_video)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
