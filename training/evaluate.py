"""Evaluating a model file: held-out synthetic mAP and what it finds in real footage.

* :func:`evaluate_holdout` renders the held-out split (a base seed never used for training)
  and runs the ONNX file through the edge's own YOLO plugin (same letterbox, decoder and
  NMS as a deployment), scoring mAP50, mAP50-95 and per-class precision and recall with
  :mod:`training.detection_metrics`.
* :func:`real_data_report` runs the model (through the same plugin) over the real images and
  clips in the shared data folder (no labels exist for them: the report counts what it finds,
  per class, so a person can compare with what the footage shows).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from contracts.yamlconfig import load_yaml_model
from edge.detectors import Detector, create_detector
from edge.detectors.plugins.yolo import YoloConfig
from edge.registry import package_file
from edge.types import Detections
from training.config import TrainConfig
from training.detection_metrics import DetectionScorer
from training.registry import sha256_file
from training.scenes.classes import CLASSES

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov")


class ClassMetrics(BaseModel):
    """Validation metrics of one class."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Class name.")
    instances: int = Field(ge=0, description="Labelled instances in the split.")
    precision: float = Field(ge=0.0, le=1.0, description="Precision at the F1-optimal threshold.")
    recall: float = Field(ge=0.0, le=1.0, description="Recall at the F1-optimal threshold.")
    map50: float = Field(ge=0.0, le=1.0, description="AP at IoU 0.5.")
    map50_95: float = Field(ge=0.0, le=1.0, description="AP averaged over IoU 0.5:0.95.")


class HoldoutReport(BaseModel):
    """Held-out synthetic evaluation of one model file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Model file.")
    sha256: str = Field(description="Its SHA-256.")
    dataset: str = Field(description="Held-out dataset folder.")
    seed: int = Field(description="Base seed of the held-out images.")
    images: int = Field(ge=0, description="Images evaluated.")
    imgsz: int = Field(gt=0, description="Network input size.")
    map50: float = Field(ge=0.0, le=1.0, description="mAP at IoU 0.5, all classes.")
    map50_95: float = Field(ge=0.0, le=1.0, description="mAP at IoU 0.5:0.95, all classes.")
    per_class: list[ClassMetrics] = Field(description="Per-class metrics.")
    wall_s: float = Field(ge=0.0, description="Seconds the evaluation took.")

    def table(self) -> str:
        """A Markdown table of the metrics."""
        lines = [
            f"held-out synthetic split: {self.images} images (seed {self.seed}), "
            f"model {self.model}",
            "",
            "| class | instances | precision | recall | mAP50 | mAP50-95 |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for c in self.per_class:
            lines.append(
                f"| {c.name} | {c.instances} | {c.precision:.3f} | {c.recall:.3f} | "
                f"{c.map50:.3f} | {c.map50_95:.3f} |"
            )
        lines.append(
            f"| **all** | {sum(c.instances for c in self.per_class)} | | | "
            f"**{self.map50:.3f}** | **{self.map50_95:.3f}** |"
        )
        return "\n".join(lines)


HOLDOUT_CONFIDENCE = 0.001
"""Score threshold for mAP: keep nearly every candidate, so the precision-recall curve is whole."""

HOLDOUT_IOU = 0.7
"""NMS IoU threshold for mAP (ultralytics' validation default)."""

HOLDOUT_MAX_DETECTIONS = 300
"""Detections kept per image for mAP."""


def holdout_detector(model: Path) -> Detector:
    """The edge's YOLO plugin on ``model``, at the thresholds a mAP evaluation needs.

    Same letterbox, decoder and NMS as the edge; only the score threshold (0.001), the NMS
    IoU (0.7) and the cap (300 per image) differ from a deployment's.
    """
    return create_detector(
        YoloConfig(
            path=model,
            confidence=HOLDOUT_CONFIDENCE,
            iou=HOLDOUT_IOU,
            max_detections=HOLDOUT_MAX_DETECTIONS,
        )
    )


def read_yolo_labels(path: Path, image_wh: tuple[int, int], names: tuple[str, ...]) -> Detections:
    """Truth boxes of one image from a YOLO label file (``class cx cy w h``, normalised).

    Args:
        path: The ``.txt`` label file; a missing file means no objects.
        image_wh: The image's size in pixels.
        names: The class names that the ids index.

    Returns:
        The boxes in pixels, confidence 1.

    Raises:
        ValueError: A line is not five numbers, or its class id is out of range.
    """
    rows = []
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 5:
            raise ValueError(f"{path}:{number}: expected 'class cx cy w h', got {line!r}")
        rows.append([float(v) for v in parts])
    if not rows:
        return Detections.empty(names)
    table = np.asarray(rows, dtype=np.float64)
    w, h = image_wh
    cx, cy, bw, bh = table[:, 1] * w, table[:, 2] * h, table[:, 3] * w, table[:, 4] * h
    xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    try:
        return Detections(
            xyxy=xyxy.astype(np.float32),
            confidence=np.ones(len(rows), dtype=np.float32),
            class_id=table[:, 0].astype(np.int64),
            names=names,
        )
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def evaluate_holdout(config: TrainConfig, model: Path) -> HoldoutReport:
    """Evaluate an ONNX model file on the held-out synthetic split with the edge's detector.

    The images are rendered first if the split is not there yet. Each image goes through the
    edge's YOLO plugin (:func:`holdout_detector`); :mod:`training.detection_metrics` scores
    the detections against the label files.

    Args:
        config: Training configuration (its held-out dataset).
        model: The ONNX model file to evaluate.

    Returns:
        The metrics.
    """
    from training.train import ensure_dataset

    ensure_dataset(config.holdout)
    images = sorted((config.holdout.root / "images" / "val").glob("*.jpg"))
    labels = config.holdout.root / "labels" / "val"
    started = time.monotonic()
    detector = holdout_detector(model)
    if detector.names != CLASSES:
        raise ValueError(f"{model} has classes {detector.names}, the held-out split {CLASSES}")
    scorer = DetectionScorer(num_classes=len(CLASSES))
    for path in images:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"could not read {path}")
        truth = read_yolo_labels(
            labels / f"{path.stem}.txt", (int(image.shape[1]), int(image.shape[0])), CLASSES
        )
        scorer.add(detector.detect(np.ascontiguousarray(image, dtype=np.uint8)), truth)
    scores = scorer.scores()
    logger.info("held-out %s: %d images in %.0f s", model, len(images), time.monotonic() - started)
    return HoldoutReport(
        model=str(model),
        sha256=sha256_file(model),
        dataset=str(config.holdout.root),
        seed=config.holdout.seed,
        images=len(images),
        imgsz=max(detector.input_size),
        map50=scores.map50,
        map50_95=scores.map50_95,
        per_class=[
            ClassMetrics(
                name=CLASSES[s.class_id],
                instances=s.instances,
                precision=s.precision,
                recall=s.recall,
                map50=s.ap50,
                map50_95=s.ap50_95,
            )
            for s in scores.per_class
        ],
        wall_s=time.monotonic() - started,
    )


class ClassHits(BaseModel):
    """What one class fired on in one file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frames: int = Field(ge=0, description="Frames with at least one detection of the class.")
    detections: int = Field(ge=0, description="Detections in all frames.")
    max_confidence: float = Field(ge=0.0, le=1.0, description="Highest score.")


class RealFileResult(BaseModel):
    """Detections of the model in one real image or clip."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(description="File name relative to the data folder.")
    frames: int = Field(ge=1, description="Frames run (1 for an image).")
    per_class: dict[str, ClassHits] = Field(description="Hits per class that fired at all.")
    ms_per_frame: float = Field(ge=0.0, description="Mean inference time per frame, ms.")


def real_data_report(
    model: Path,
    data_dir: Path,
    *,
    conf: float = 0.25,
    frames_per_clip: int = 20,
) -> list[RealFileResult]:
    """Run a model over the real images and clips under ``data_dir`` (``images/``, ``videos/``).

    Args:
        model: ONNX model file.
        data_dir: The shared data folder.
        conf: Score threshold.
        frames_per_clip: Frames sampled evenly from each clip.

    Returns:
        One result per file, in file-name order.

    Raises:
        FileNotFoundError: If ``data_dir`` does not exist.
    """
    if not data_dir.is_dir():
        raise FileNotFoundError(f"shared data folder {data_dir} not found")
    detector = create_detector(YoloConfig(path=model, confidence=conf))
    files = sorted(
        p
        for p in data_dir.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES and "weights" not in p.parts
    )
    results = []
    for path in files:
        frames = _read_frames(path, frames_per_clip)
        if not frames:
            logger.warning("no frames decoded from %s", path)
            continue
        hits: dict[str, list[float]] = {}
        frames_with: dict[str, int] = {}
        started = time.monotonic()
        for frame in frames:
            found = detector.detect(frame)
            present = set()
            for cid, score in zip(found.class_id.tolist(), found.confidence.tolist(), strict=True):
                name = detector.names[cid]
                hits.setdefault(name, []).append(float(score))
                present.add(name)
            for name in present:
                frames_with[name] = frames_with.get(name, 0) + 1
        ms = (time.monotonic() - started) * 1000.0 / len(frames)
        results.append(
            RealFileResult(
                file=path.relative_to(data_dir).as_posix(),
                frames=len(frames),
                per_class={
                    n: ClassHits(frames=frames_with[n], detections=len(s), max_confidence=max(s))
                    for n, s in sorted(hits.items())
                },
                ms_per_frame=ms,
            )
        )
    return results


def _read_frames(path: Path, count: int) -> list[np.ndarray]:
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        return [image] if image is not None else []
    import av

    frames = []
    with av.open(str(path)) as container:
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    if not decoded:
        return []
    for i in np.linspace(0, len(decoded) - 1, min(count, len(decoded))).round().astype(int):
        frames.append(decoded[int(i)])
    return frames


REAL_FOOTAGE_TRUTH = package_file("training", "real_footage.yaml")
"""What the shared real images and clips show, by eye, in the detector's classes."""


class FootageTruth(BaseModel):
    """What one real file shows, in the detector's classes (no boxes: a person's description)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shows: str = Field(min_length=1, description="What the file shows, in words.")
    present: list[str] = Field(description="Classes that are really in it.")
    arguable: list[str] = Field(
        default_factory=list,
        description="Classes a reasonable model may report without being wrong (a bus as truck).",
    )

    @field_validator("present", "arguable")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in CLASSES]
        if unknown:
            raise ValueError(f"unknown classes {unknown}; known: {', '.join(CLASSES)}")
        return names


class FootageDescriptions(RootModel[dict[str, FootageTruth]]):
    """The whole of ``real_footage.yaml``: shared-data file -> what it shows."""


def load_footage_truth(path: Path = REAL_FOOTAGE_TRUTH) -> dict[str, FootageTruth]:
    """Read the by-eye description of the real files (see ``training/real_footage.yaml``).

    Raises:
        contracts.yamlconfig.ConfigError: If the file is not a mapping of file name to a valid
            description (a ValueError; each problem as ``file:line: message``).
    """
    described = load_yaml_model(
        path, FootageDescriptions, expected="a mapping of file name to description"
    )
    return dict(described.root)


def real_data_table(
    results: list[RealFileResult], truth: dict[str, FootageTruth] | None = None
) -> str:
    """A Markdown table of :func:`real_data_report` results, held against what the files show.

    A class that the file shows and the model never reports is *missed*; a class the model
    reports that the file does not show (and is not arguable) is a *false alarm*.
    """
    known = truth if truth is not None else {}
    lines = [
        "| file | shows (by eye) | detections per class (frames with it / max score) "
        "| missed | false alarms | ms/frame |",
        "|---|---|---|---|---|---:|",
    ]
    for r in results:
        found = (
            ", ".join(f"{n} {h.frames}/{h.max_confidence:.2f}" for n, h in r.per_class.items())
            or "nothing"
        )
        t = known.get(r.file)
        if t is None:
            shows, missed, false = "(not described)", "?", "?"
        else:
            shows = t.shows
            missed = ", ".join(c for c in t.present if c not in r.per_class) or "-"
            false = (
                ", ".join(c for c in r.per_class if c not in t.present and c not in t.arguable)
                or "-"
            )
        lines.append(
            f"| {r.file} ({r.frames} frame{'s' if r.frames > 1 else ''}) | {shows} | {found} "
            f"| {missed} | {false} | {r.ms_per_frame:.0f} |"
        )
    return "\n".join(lines)
