"""Training from reviewed cases: read a ``civicwatch dataset export`` and mix it with scenes.

The export (server side, :mod:`server.dataset_export`) is a YOLO folder with ``data.yaml``,
``images/{train,val,test}``, ``labels/...`` and ``manifest.jsonl``. Training on it alone
would make the model forget what the reviewed cases never show, so :func:`mix_with_export`
writes a data yaml whose training list holds the export's train frames (repeated
``export_repeat`` times) and ``rendered_ratio`` rendered scenes for every export frame in
that list; validation stays on the rendered validation split plus the export's val frames.
The export's test split is never trained on: it is the gate's frozen test split.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from training.scenes.classes import CLASSES

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class ExportDataError(ValueError):
    """The folder is not a usable dataset export."""


@dataclass(frozen=True, slots=True)
class ReviewExport:
    """A dataset export on disk.

    Attributes:
        root: Its folder.
        images: Image paths per split (absolute).
        kinds: Written frames per kind (positive, hard_negative), from the manifest.
        negatives: The hard-negative frames (rejected as wrong_object).
        judged: Per image, the classes its labels speak for (others were not looked at).
    """

    root: Path
    images: dict[str, list[Path]]
    kinds: dict[str, int]
    negatives: frozenset[Path] = frozenset()
    judged: dict[Path, frozenset[str]] = field(default_factory=dict)

    def label_of(self, image: Path) -> Path:
        """The YOLO label file of one of its images."""
        return self.root / "labels" / image.parent.name / f"{image.stem}.txt"


def load_export(root: Path) -> ReviewExport:
    """Read an export folder and check it fits the detector's classes.

    Raises:
        ExportDataError: No ``data.yaml`` or manifest, other class names, or a listed image
            without its file.
    """
    data_yaml = root / "data.yaml"
    manifest = root / "manifest.jsonl"
    if not data_yaml.is_file() or not manifest.is_file():
        raise ExportDataError(
            f"{root} is not a dataset export (no data.yaml or manifest.jsonl): make one with "
            "'civicwatch dataset export --out DIR'"
        )
    listed = yaml.safe_load(data_yaml.read_text())
    names = listed.get("names") if isinstance(listed, dict) else None
    if not isinstance(names, dict) or tuple(names[i] for i in sorted(names)) != CLASSES:
        raise ExportDataError(f"{data_yaml}: names {names} are not the detector's {CLASSES}")
    images: dict[str, list[Path]] = {split: [] for split in SPLITS}
    kinds: dict[str, int] = {}
    negatives: set[Path] = set()
    judged: dict[Path, frozenset[str]] = {}
    for number, line in enumerate(manifest.read_text().splitlines(), start=1):
        entry = json.loads(line)
        image = root / entry["image"]
        if not image.is_file():
            raise ExportDataError(f"{manifest}:{number}: {image} is missing")
        images[entry["split"]].append(image.resolve())
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
        if entry["kind"] == "hard_negative":
            negatives.add(image.resolve())
        judged[image.resolve()] = frozenset(entry.get("judged", CLASSES))
    return ReviewExport(root.resolve(), images, kinds, frozenset(negatives), judged)


def _rendered_images(rendered_yaml: Path, split: str) -> list[str]:
    listed = yaml.safe_load(rendered_yaml.read_text())
    base = Path(listed.get("path") or rendered_yaml.parent)
    if not base.is_absolute():
        base = rendered_yaml.parent / base
    entry = listed[split]
    target = base / entry if not Path(entry).is_absolute() else Path(entry)
    if target.suffix == ".txt":
        return [
            str((target.parent / line).resolve()) if not Path(line).is_absolute() else line
            for line in target.read_text().split()
        ]
    return sorted(str(p) for p in target.glob("*.jpg"))


def mix_with_export(
    export: ReviewExport,
    rendered_yaml: Path,
    out_dir: Path,
    *,
    rendered_ratio: float,
    export_repeat: int = 1,
    seed: int = 0,
    pseudo_model: Path | None = None,
    pseudo_confidence: float = 0.35,
) -> Path:
    """Write a data yaml that trains on the export plus rendered scenes (see the module).

    The export's frames are copied with their labels; where ``pseudo_model`` is given, its
    detections of the classes a reviewer did not judge on a frame (the passers-by and cars
    of a stall case) are added as labels, unless they overlap a reviewed label, so that
    training does not learn them as background.

    Args:
        export: The dataset export.
        rendered_yaml: The rendered dataset's data yaml.
        out_dir: Where the lists and ``data-review.yaml`` go.
        rendered_ratio: Rendered training images per export image in the training list.
        export_repeat: How often each export training frame is listed.
        seed: Which rendered images are drawn.
        pseudo_model: The model training starts from (ONNX), for the unjudged classes.
        pseudo_confidence: Its score threshold for them.

    Raises:
        ExportDataError: The export has no training frames, or the ratio is negative.
    """
    if rendered_ratio < 0 or export_repeat < 1:
        raise ExportDataError("rendered_ratio must be >= 0 and export_repeat >= 1")
    if not export.images["train"]:
        raise ExportDataError(f"{export.root} has no training frames (all in val/test?)")
    copied = _copy_with_labels(export, out_dir, pseudo_model, pseudo_confidence)
    review = [str(p) for p in copied["train"]] * export_repeat
    rendered = _rendered_images(rendered_yaml, "train")
    wanted = min(len(rendered), round(rendered_ratio * len(review)))
    drawn = random.Random(seed).sample(rendered, wanted)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_list = out_dir / "review-train.txt"
    train_list.write_text("".join(f"{line}\n" for line in [*review, *drawn]))
    val = _rendered_images(rendered_yaml, "val") + [str(p) for p in copied["val"]]
    val_list = out_dir / "review-val.txt"
    val_list.write_text("".join(f"{line}\n" for line in val))
    data = {
        "path": str(out_dir),
        "train": str(train_list),
        "val": str(val_list),
        "names": dict(enumerate(CLASSES)),
    }
    out = out_dir / "data-review.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    logger.info(
        "training list: %d export frames (x%d) + %d rendered scenes; validation %d images",
        len(export.images["train"]),
        export_repeat,
        len(drawn),
        len(val),
    )
    return out


PSEUDO_OVERLAP_IOU = 0.5
"""A pseudo-label overlapping a reviewed label this much is dropped (the reviewer's wins)."""


def _copy_with_labels(
    export: ReviewExport, out: Path, pseudo_model: Path | None, confidence: float
) -> dict[str, list[Path]]:
    """Copy the export's train and val frames to ``out`` with labels (+ pseudo-labels)."""
    import shutil

    import cv2
    import numpy as np

    from edge.detectors import create_detector
    from edge.detectors.plugins.yolo import YoloConfig
    from training.detection_metrics import box_iou
    from training.evaluate import read_yolo_labels

    detector = (
        create_detector(YoloConfig(path=pseudo_model, confidence=confidence))
        if pseudo_model is not None
        else None
    )
    if detector is not None and detector.names != CLASSES:
        raise ExportDataError(f"{pseudo_model} has classes {detector.names}, not {CLASSES}")
    copied: dict[str, list[Path]] = {}
    added = 0
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        copied[split] = []
        for image_path in export.images[split]:
            target = out / "images" / split / image_path.name
            shutil.copyfile(image_path, target)
            lines = export.label_of(image_path).read_text().splitlines()
            if detector is not None:
                image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
                if image is None:
                    raise ExportDataError(f"could not read {image_path}")
                h, w = int(image.shape[0]), int(image.shape[1])
                truth = read_yolo_labels(export.label_of(image_path), (w, h), CLASSES)
                judged = export.judged.get(image_path, frozenset(CLASSES))
                found = detector.detect(np.ascontiguousarray(image, dtype=np.uint8))
                overlap = box_iou(found.xyxy, truth.xyxy)
                for i in range(len(found)):
                    name = CLASSES[int(found.class_id[i])]
                    if name in judged:
                        continue
                    if overlap.shape[1] and float(overlap[i].max()) >= PSEUDO_OVERLAP_IOU:
                        continue
                    x1, y1, x2, y2 = (float(v) for v in found.xyxy[i])
                    lines.append(
                        f"{int(found.class_id[i])} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f}"
                        f" {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
                    )
                    added += 1
            (out / "labels" / split / f"{image_path.stem}.txt").write_text(
                "".join(f"{line}\n" for line in lines)
            )
            copied[split].append(target)
    logger.info("export frames copied with %d pseudo-labels of unjudged classes", added)
    return copied


def resolve_start(value: str, registry_path: Path | None = None) -> Path:
    """``--from``: a checkpoint or model file, ``default``, or a registered ``NAME[@VERSION]``.

    A registered model's file is checked against its sha256.

    Raises:
        edge.registry.RegistryError / ModelVerificationError: Unknown name or bad file.
    """
    path = Path(value)
    if path.suffix in (".pt", ".onnx") or path.is_file():
        return path
    from edge.registry import load_registry, verify_model

    registry = load_registry(registry_path)
    if value == "default":
        entry = registry.default_entry()
    else:
        name, _, version = value.partition("@")
        entry = registry.get(name, version or None)
    model = registry.path_of(entry)
    verify_model(model, registry)
    logger.info("starting from registered %s@%s (%s)", entry.name, entry.version, model)
    return model
