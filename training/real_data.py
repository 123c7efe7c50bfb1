"""Real backgrounds and hard negatives: frames of the shared real clips and photos as training data.

Each frame is written twice over:

* as it is, with the people, cars and trucks that the COCO teacher (the shared data's
  ``weights/yolov8n_int8.onnx`` through the edge's ``yolo`` plugin) finds at high confidence as
  **pseudo-labels** (``origin: teacher``, ``pseudo: true`` in ``manifest.jsonl``), and no stall,
  goods, bare soil or dust net: a hard negative for the classes that fire falsely on real
  streets;
* in ``composites`` copies with rendered stalls, goods, dust nets and trucks pasted on
  (:mod:`training.scenes.real_backgrounds`: scale from the frame's perspective, light matched in
  LAB), labelled exactly (``origin: pasted``).

**Split by clip** (:data:`DEFAULT_SPLIT`): the highway clip and the plaza crowd are for training;
the parking-lot clip and the dump-truck clip are kept for checking (the real table's
no-violation clips; the dump-truck clip also shows bare soil that would be an unlabelled
positive). Of the photos, only those that show no stall, goods or bare soil are used
(``bus.jpg``, construction dust ``04`` and ``05``); the truck checkpoint photos are the real
table's truck rows and are never trained on.
"""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from edge.types import Detections
from training.config import RealBackgroundsConfig
from training.scenes.classes import CLASSES, class_id
from training.scenes.dataset import yolo_lines
from training.scenes.real_backgrounds import (
    Pasted,
    SeenObject,
    guess_perspective,
    paste,
    render_cutout,
)
from training.scenes.render import ImageArray, LabeledBox
from training.scenes.world import RenderedImage

logger = logging.getLogger(__name__)

TEACHER_FILE = "weights/yolov8n_int8.onnx"
"""The COCO teacher, below the shared data folder."""

PSEUDO_CLASSES = ("person", "car", "truck")
"""Teacher classes kept as pseudo-labels (same names in COCO and the project)."""

PASTE_WEIGHTS = {"stall": 0.35, "goods": 0.35, "truck": 0.15, "dust_net": 0.15}
"""How often each pasted class is drawn."""


class Teacher(Protocol):
    """What the builder needs of a detector (``edge.detectors.Detector`` has it)."""

    def detect(self, image: ImageArray) -> Detections:
        """Boxes in pixels of ``image`` with their model class names."""
        ...


class RealDataError(RuntimeError):
    """The real material or the teacher is missing or unreadable."""


@dataclass(frozen=True, slots=True)
class SourceSplit:
    """Which real files (below the shared data folder) are trained on and which kept out.

    Attributes:
        train_clips: Clips whose frames are training backgrounds.
        train_photos: Photos used as training backgrounds.
        check_clips: Clips kept out of training (for checking).
    """

    train_clips: tuple[str, ...]
    train_photos: tuple[str, ...]
    check_clips: tuple[str, ...]


DEFAULT_SPLIT = SourceSplit(
    train_clips=("videos/bgslibrary_video02.avi", "videos/lamminhthien_vtest_crowd.avi"),
    train_photos=(
        "images/bus.jpg",
        "images/construction_dust/04.jpg",
        "images/construction_dust/05.jpg",
    ),
    check_clips=("videos/intel_car-detection.mp4", "videos/nuclea_dump-truck-loading-material.mp4"),
)
"""The split by clip (see the module docstring)."""


class RealBox(BaseModel):
    """One label of a real-background image."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    class_id: int = Field(ge=0, lt=len(CLASSES), description="Index into CLASSES.")
    name: str = Field(description="Class name.")
    xyxy: tuple[float, float, float, float] = Field(description="Box in pixels.")
    origin: Literal["teacher", "pasted"] = Field(description="Who drew the box.")
    pseudo: bool = Field(description="A teacher's guess, not a checked label.")
    score: float | None = Field(description="Teacher score; null for pasted objects.")
    covered: bool | None = Field(description="Pasted truck's load covered; else null.")


class RealImage(BaseModel):
    """One image of the real-background dataset and where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(description="Image path relative to the dataset folder.")
    source: str = Field(description="Clip or photo below the shared data folder.")
    frame: int | None = Field(description="Frame index in the clip; null for a photo.")
    kind: Literal["background", "composite"] = Field(description="As found, or with pastes.")
    perspective_fitted: bool = Field(description="Paste scale fitted to the frame's objects.")
    boxes: list[RealBox] = Field(description="Labels.")


class RealManifest(BaseModel):
    """``manifest.json``: how the dataset was made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: RealBackgroundsConfig = Field(description="The settings it was built with.")
    images: int = Field(ge=0, description="Images written.")
    pseudo_labels: bool = Field(description="Person/car/truck boxes are teacher pseudo-labels.")
    teacher: str = Field(description="Teacher model file.")
    teacher_sha256: str = Field(description="Its sha256.")
    teacher_classes: tuple[str, ...] = Field(description="Classes kept as pseudo-labels.")
    train_sources: tuple[str, ...] = Field(description="Files trained on.")
    check_sources: tuple[str, ...] = Field(description="Clips kept out of training.")
    instances: dict[str, int] = Field(description="Labels per class.")


def teacher_detector(shared: Path, confidence: float) -> Teacher:
    """The COCO teacher through the edge's ``yolo`` plugin.

    Raises:
        RealDataError: If the teacher file is not in the shared data.
    """
    from edge.detectors import create_detector, parse_detector_config

    path = shared / TEACHER_FILE
    if not path.is_file():
        raise RealDataError(f"COCO teacher {path} not found (set CIVICWATCH_SHARED_DATA)")
    config = {"type": "yolo", "path": str(path), "confidence": confidence}
    return create_detector(parse_detector_config(config))


def _frames(path: Path, count: int) -> Iterator[tuple[int | None, ImageArray]]:
    """``count`` frames evenly spaced through a clip (PyAV), or the photo itself."""
    if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise RealDataError(f"photo {path} cannot be read")
        yield None, np.asarray(image, dtype=np.uint8)
        return
    import av

    try:
        with av.open(str(path)) as container:
            total = sum(1 for _ in container.decode(video=0))
        step = max(1, total // count)
        with av.open(str(path)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index % step == 0 and index // step < count:
                    yield index, np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
    except av.error.FFmpegError as exc:
        raise RealDataError(f"clip {path} cannot be decoded: {exc}") from exc


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over the smaller box's area (a small box inside a large one counts)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / smaller if smaller > 0 else 1.0


def _composite(
    frame: ImageArray, seen: list[RealBox], rng: np.random.Generator, max_objects: int
) -> tuple[ImageArray, list[RealBox], bool]:
    """A copy of ``frame`` with 1..``max_objects`` rendered objects pasted on, none covering
    more than a tenth of a labelled box (or of itself)."""
    h, w = frame.shape[:2]
    perspective = guess_perspective([SeenObject(b.name, b.xyxy) for b in seen], h)
    focal = w / 2 / math.tan(math.radians(27.5))
    pitch = float(np.clip(math.degrees(math.atan((h / 2 - perspective.horizon_y) / focal)), 5, 60))
    out = frame.copy()
    boxes: list[tuple[float, float, float, float]] = [b.xyxy for b in seen]
    pasted: list[Pasted] = []
    names = list(PASTE_WEIGHTS)
    weights = np.array(list(PASTE_WEIGHTS.values()))
    for _ in range(int(rng.integers(1, max_objects + 1))):
        name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        cutout = render_cutout(rng, name, pitch)
        if cutout is None:
            continue
        top = max(perspective.horizon_y + 0.1 * (h - perspective.horizon_y), 0.3 * h)
        for _try in range(4):
            foot = (float(rng.uniform(0.1, 0.9)) * w, float(rng.uniform(top, h)))
            trial = out.copy()
            done = paste(trial, cutout, perspective, foot)
            if done is not None and all(_overlap(done.xyxy, b) < 0.1 for b in boxes):
                out = trial
                boxes.append(done.xyxy)
                pasted.append(done)
                break
    labels = [
        RealBox(
            class_id=class_id(p.name),
            name=p.name,
            xyxy=p.xyxy,
            origin="pasted",
            pseudo=False,
            score=None,
            covered=p.covered,
        )
        for p in pasted
    ]
    return out, labels, perspective.fitted


def _pseudo_labels(teacher: Teacher, image: ImageArray, confidence: float) -> list[RealBox]:
    found = teacher.detect(image)
    out = []
    for box, score, name in zip(found.xyxy, found.confidence, found.class_name, strict=True):
        if name in PSEUDO_CLASSES and score >= confidence:
            x0, y0, x1, y1 = (float(v) for v in box)
            out.append(
                RealBox(
                    class_id=class_id(name),
                    name=name,
                    xyxy=(x0, y0, x1, y1),
                    origin="teacher",
                    pseudo=True,
                    score=float(score),
                    covered=None,
                )
            )
    return out


def _scaled(boxes: list[RealBox], factor: float) -> list[RealBox]:
    return [b.model_copy(update={"xyxy": tuple(float(v) * factor for v in b.xyxy)}) for b in boxes]


def _write(out: Path, stem: str, image: ImageArray, boxes: list[RealBox]) -> str:
    rel = f"images/train/{stem}.jpg"
    if not cv2.imwrite(str(out / rel), image, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise OSError(f"could not write {out / rel}")
    labelled = RenderedImage(
        image, tuple(LabeledBox(b.class_id, b.xyxy, 1.0, b.covered, "") for b in boxes)
    )
    lines = yolo_lines(labelled)
    (out / "labels" / "train" / f"{stem}.txt").write_text("".join(f"{ln}\n" for ln in lines))
    return rel


def build_real_backgrounds(
    shared: Path,
    out: Path,
    config: RealBackgroundsConfig,
    *,
    teacher: Teacher | None = None,
    split: SourceSplit = DEFAULT_SPLIT,
) -> RealManifest:
    """Write the real-background dataset under ``out`` (replacing what is there).

    Args:
        shared: The shared data folder.
        out: Dataset folder: ``images/train``, ``labels/train``, ``manifest.jsonl`` (one
            :class:`RealImage` a line), ``manifest.json`` (:class:`RealManifest`).
        config: How many frames and pastes, the teacher's confidence, the image width.
        teacher: The teacher detector (default: :func:`teacher_detector`).
        split: Which files to train on.

    Returns:
        The manifest written.

    Raises:
        RealDataError: If a training source or the teacher is missing or unreadable.
    """
    sources = [*split.train_clips, *split.train_photos]
    missing = [s for s in sources if not (shared / s).is_file()]
    if missing:
        raise RealDataError(f"real training sources not in {shared}: {missing}")
    if set(sources) & set(split.check_clips):
        raise RealDataError(f"clips both trained on and kept for checking: {split.check_clips}")
    teacher_path = shared / TEACHER_FILE
    model = teacher if teacher is not None else teacher_detector(shared, config.teacher_confidence)
    if out.exists():
        shutil.rmtree(out)
    for sub in ("images/train", "labels/train"):
        (out / sub).mkdir(parents=True)
    rng = np.random.default_rng(np.random.SeedSequence(config.seed))
    records: list[RealImage] = []
    for source in sources:
        for frame_index, frame in _frames(shared / source, config.frames_per_clip):
            seen = _pseudo_labels(model, frame, config.teacher_confidence)
            factor = config.imgsz / frame.shape[1]
            size = (config.imgsz, round(frame.shape[0] * factor))
            small = np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), np.uint8)
            seen = _scaled(seen, factor)
            stem = f"{Path(source).stem}_{frame_index if frame_index is not None else 0:05d}"
            rel = _write(out, stem, small, seen)
            records.append(
                RealImage(
                    file=rel,
                    source=source,
                    frame=frame_index,
                    kind="background",
                    perspective_fitted=False,
                    boxes=seen,
                )
            )
            for k in range(config.composites):
                image, pasted, fitted = _composite(small, seen, rng, config.max_objects)
                rel = _write(out, f"{stem}_c{k}", image, [*seen, *pasted])
                records.append(
                    RealImage(
                        file=rel,
                        source=source,
                        frame=frame_index,
                        kind="composite",
                        perspective_fitted=fitted,
                        boxes=[*seen, *pasted],
                    )
                )
        logger.info("real backgrounds: %s done (%d images so far)", source, len(records))
    with (out / "manifest.jsonl").open("w") as fh:
        fh.writelines(r.model_dump_json() + "\n" for r in records)
    counts = {n: sum(b.name == n for r in records for b in r.boxes) for n in CLASSES}
    digest = hashlib.sha256(teacher_path.read_bytes()).hexdigest() if teacher_path.is_file() else ""
    manifest = RealManifest(
        pseudo_labels=True,
        teacher=TEACHER_FILE,
        teacher_sha256=digest,
        teacher_classes=PSEUDO_CLASSES,
        train_sources=tuple(sources),
        check_sources=split.check_clips,
        config=config,
        images=len(records),
        instances=counts,
    )
    (out / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n")
    logger.info("real backgrounds %s: %d images, labels %s", out, len(records), counts)
    return manifest


def mixed_dataset(config: RealBackgroundsConfig, shared: Path, rendered_yaml: Path) -> Path:
    """A data yaml that trains on the rendered scenes plus the real backgrounds.

    The real-background dataset is built first unless ``config.root`` holds one made with the
    same settings. The rendered ``val`` split stays the validation split.

    Args:
        config: The ``real_backgrounds`` settings (root absolute).
        shared: The shared data folder.
        rendered_yaml: The rendered dataset's data yaml (``data.yaml`` or ``data-repeat.yaml``).

    Returns:
        Path of ``data-mixed.yaml`` in ``config.root``.
    """
    manifest_file = config.root / "manifest.json"
    current = None
    if manifest_file.is_file():
        current = RealManifest.model_validate_json(manifest_file.read_text())
    if current is None or current.config != config:
        build_real_backgrounds(shared, config.root, config)
    listed = yaml.safe_load(rendered_yaml.read_text())
    base = rendered_yaml.parent
    images = [
        f"./{r.file}"
        for line in (config.root / "manifest.jsonl").read_text().splitlines()
        if (r := RealImage.model_validate_json(line))
    ]
    (config.root / "real-train.txt").write_text(
        "".join(f"{line}\n" for line in images * config.repeat)
    )
    data = {
        **listed,
        "path": str(base),
        "train": [str(base / listed["train"]), str(config.root / "real-train.txt")],
        "val": str(base / listed["val"]),
    }
    out = config.root / "data-mixed.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out
