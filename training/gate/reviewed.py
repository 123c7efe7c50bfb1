"""A model on a reviewed-case export's split, at the edge's deployment threshold.

Each frame goes through the edge's YOLO plugin with the edge config's confidence and NMS
IoU: what would raise a case on the street. Only the classes a reviewer judged on the frame
count (the manifest's ``judged``: a stall reviewer does not box every passer-by). A
detection of such a class that matches no label (IoU 0.5) is a **false case**: on a hard
negative it is the very mistake a reviewer rejected. Recall per class is the share of
labels some detection matches.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.detectors import create_detector
from edge.detectors.plugins.yolo import YoloConfig
from training.detection_metrics import match_predictions
from training.evaluate import read_yolo_labels
from training.review_data import ReviewExport
from training.scenes.classes import CLASSES

logger = logging.getLogger(__name__)

MATCH_IOU = np.array([0.5])


class ClassRecall(BaseModel):
    """Labels of one class and how many a detection found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    instances: int = Field(ge=0)
    found: int = Field(ge=0)

    @property
    def recall(self) -> float:
        return self.found / self.instances if self.instances else 0.0


class ReviewedResult(BaseModel):
    """One model on one split of a reviewed-case export."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    split: str
    images: int = Field(ge=0)
    hard_negatives: int = Field(ge=0, description="Frames a reviewer rejected as wrong_object.")
    false_cases: int = Field(ge=0, description="Detections that match no label.")
    false_frames: int = Field(ge=0, description="Frames with at least one false case.")
    per_class: list[ClassRecall]
    confidence: float
    wall_s: float

    @property
    def instances(self) -> int:
        return sum(c.instances for c in self.per_class)

    @property
    def recall(self) -> float:
        found = sum(c.found for c in self.per_class)
        return found / self.instances if self.instances else 0.0


def evaluate_reviewed(
    model: Path,
    export: ReviewExport,
    *,
    split: str = "test",
    confidence: float,
    iou: float,
) -> ReviewedResult:
    """Run ``model`` on ``export``'s ``split`` at the deployment threshold.

    Raises:
        ValueError: The model's classes are not the detector's, or a label file is bad.
        OSError: An image cannot be read.
    """
    started = time.monotonic()
    detector = create_detector(YoloConfig(path=model, confidence=confidence, iou=iou))
    if detector.names != CLASSES:
        raise ValueError(f"{model} has classes {detector.names}, the export {CLASSES}")
    instances = np.zeros(len(CLASSES), dtype=np.int64)
    found = np.zeros(len(CLASSES), dtype=np.int64)
    false_cases = false_frames = 0
    images = export.images[split]
    for path in images:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"could not read {path}")
        truth = read_yolo_labels(
            export.label_of(path), (int(image.shape[1]), int(image.shape[0])), CLASSES
        )
        judged = export.judged.get(path, frozenset(CLASSES))
        keep = np.array([CLASSES[i] in judged for i in range(len(CLASSES))], dtype=np.bool_)
        detections = detector.detect(np.ascontiguousarray(image, dtype=np.uint8))
        found_now = detections[keep[detections.class_id]]
        truth = truth[keep[truth.class_id]]
        correct = match_predictions(found_now, truth, MATCH_IOU)[:, 0]
        np.add.at(instances, truth.class_id, 1)
        np.add.at(found, found_now.class_id[correct], 1)
        wrong = int((~correct).sum())
        false_cases += wrong
        false_frames += int(wrong > 0)
    result = ReviewedResult(
        split=split,
        images=len(images),
        hard_negatives=sum(1 for p in images if p in export.negatives),
        false_cases=false_cases,
        false_frames=false_frames,
        per_class=[
            ClassRecall(name=name, instances=int(instances[i]), found=int(found[i]))
            for i, name in enumerate(CLASSES)
        ],
        confidence=confidence,
        wall_s=time.monotonic() - started,
    )
    logger.info(
        "%s on the reviewed %s split: %d images, %d false cases, recall %.3f",
        model.name,
        split,
        result.images,
        result.false_cases,
        result.recall,
    )
    return result
