"""Build the road model: ``python -m training.truck_stage SOURCE OUT [--data DIR]``.

SOURCE is the installed COCO YOLOv8n ONNX file (``weights/yolov8n_int8.onnx`` of the shared
data); the calibration photos are the shared data's real photos. Writes the registry entry
to add to the operator's registry (``file`` relative to it) to ``--entry`` (default: OUT
with the suffix ``.registry.yaml``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import yaml

from training.config import shared_data_root
from training.truck_stage.road_model import ROAD_IMGSZ, build_road_model

CALIBRATION = ("images/bus.jpg", "images/street.png", "images/construction_dust")


def _calibration(root: Path) -> list[Path]:
    out: list[Path] = []
    for name in CALIBRATION:
        path = root / name
        out += sorted(path.glob("*.jpg")) if path.is_dir() else [path] if path.is_file() else []
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (3: no calibration photos)."""
    parser = argparse.ArgumentParser(prog="python -m training.truck_stage", description=__doc__)
    parser.add_argument("source", type=Path, help="COCO YOLOv8n ONNX (int8 or float)")
    parser.add_argument("out", type=Path, help="road model to write")
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    parser.add_argument("--imgsz", type=int, default=ROAD_IMGSZ)
    parser.add_argument("--entry", type=Path, default=None, help="registry entry to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    photos = _calibration(args.data if args.data is not None else shared_data_root())
    if not photos:
        sys.stderr.write("no calibration photos found (set CIVICWATCH_SHARED_DATA or --data)\n")
        return 3
    built = build_road_model(args.source, args.out, photos, imgsz=args.imgsz)
    entry = args.entry if args.entry is not None else args.out.with_suffix(".registry.yaml")
    entry.write_text(yaml.safe_dump([built.registry_entry(args.out.name)], sort_keys=False))
    sys.stderr.write(f"built {built.path} (sha256 {built.sha256}); registry entry: {entry}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
