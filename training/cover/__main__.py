"""``python -m training.cover``: render crops, train, export and verify the cover classifier."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run a training."""
    parser = argparse.ArgumentParser(
        prog="python -m training.cover",
        description="Train the covered / uncovered truck-load classifier on scene-generator "
        "crops and export it to ONNX with its card and registry entry.",
    )
    parser.add_argument("--out", type=Path, default=Path("models"), help="output folder")
    parser.add_argument("--train-scenes", type=int, default=1600, help="training scenes")
    parser.add_argument("--val-scenes", type=int, default=400, help="validation scenes")
    parser.add_argument("--train-seed", type=int, default=4101, help="training base seed")
    parser.add_argument("--val-seed", type=int, default=4102, help="validation base seed")
    parser.add_argument("--epochs", type=int, default=24, help="training epochs")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from training.cover.train import run

    report = run(
        args.out,
        train_scenes=args.train_scenes,
        val_scenes=args.val_scenes,
        train_seed=args.train_seed,
        val_seed=args.val_seed,
        epochs=args.epochs,
        threads=args.threads,
    )
    sys.stdout.write(json.dumps(dataclasses.asdict(report), default=str, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
