"""Detection metrics: match predictions to truth boxes, then AP per class and mAP.

The definitions are the usual COCO-style ones that ultralytics' validation also reports, so
the numbers compare with the earlier cards:

* a prediction is a true positive at an IoU threshold when it overlaps a truth box of its
  class by at least that much that no more confident prediction took (COCO's rule);
* AP is the area under the precision envelope, sampled at 101 recall points, with precision
  0 past the last recall reached (so a perfect ranking scores 0.995, as in ultralytics);
* mAP50 is the mean over the classes that have truth boxes of AP at IoU 0.5, mAP50-95 the
  mean of AP averaged over IoU 0.5, 0.55 .. 0.95;
* precision and recall per class are read at one confidence for all classes: the one where
  the classes' mean F1 (lightly smoothed over a 1000-step confidence grid) is highest.

Pure numpy, no I/O: the caller runs the detector and reads the labels.

Example:
    >>> import numpy as np
    >>> from edge.types import Detections
    >>> truth = Detections(
    ...     np.array([[0, 0, 10, 10]], np.float32), np.ones(1, np.float32),
    ...     np.zeros(1, np.int64), ("stall",))
    >>> scorer = DetectionScorer(num_classes=1)
    >>> scorer.add(truth, truth)
    >>> scorer.scores().map50
    0.995
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.types import Detections

IOU_THRESHOLDS: npt.NDArray[np.float64] = np.linspace(0.5, 0.95, 10)
"""IoU thresholds of mAP50-95 (the first is mAP50's)."""

_CONF_GRID = np.linspace(0.0, 1.0, 1000)
_RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def box_iou(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """IoU of every box in ``a`` with every box in ``b`` (``xyxy`` pixels): ``(len(a), len(b))``.

    Example:
        >>> box_iou(np.array([[0, 0, 2, 2]], np.float32), np.array([[1, 0, 3, 2]], np.float32))
        array([[0.33333333]])
    """
    a64, b64 = a.astype(np.float64).reshape(-1, 4), b.astype(np.float64).reshape(-1, 4)
    lo = np.maximum(a64[:, None, :2], b64[None, :, :2])
    hi = np.minimum(a64[:, None, 2:], b64[None, :, 2:])
    inter = np.clip(hi - lo, 0.0, None).prod(axis=2)
    area_a = (a64[:, 2:] - a64[:, :2]).clip(0.0).prod(axis=1)
    area_b = (b64[:, 2:] - b64[:, :2]).clip(0.0).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    out: npt.NDArray[np.float64] = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
    return out


def match_predictions(
    predictions: Detections,
    truth: Detections,
    thresholds: npt.NDArray[np.float64] = IOU_THRESHOLDS,
) -> npt.NDArray[np.bool_]:
    """Which predictions are true positives, per IoU threshold: ``(len(predictions), T)``.

    At each threshold, predictions take truth boxes in order of falling confidence: each
    takes the best-overlapping truth box of its class that no more confident prediction
    took, if it overlaps by at least the threshold (COCO's rule).
    """
    correct = np.zeros((len(predictions), len(thresholds)), dtype=np.bool_)
    if len(predictions) == 0 or len(truth) == 0:
        return correct
    same_class = truth.class_id[:, None] == predictions.class_id[None, :]
    iou = box_iou(truth.xyxy, predictions.xyxy) * same_class
    order = np.argsort(-predictions.confidence, kind="stable")
    for k, threshold in enumerate(thresholds.tolist()):
        free = np.ones(len(truth), dtype=np.bool_)
        for p in order.tolist():
            overlap = np.where(free, iou[:, p], -1.0)
            t = int(overlap.argmax())
            if overlap[t] >= threshold:
                free[t] = False
                correct[p, k] = True
    return correct


def average_precision(recall: npt.NDArray[np.float64], precision: npt.NDArray[np.float64]) -> float:
    """Area under the precision envelope of one ranked list, sampled at 101 recall points.

    Args:
        recall: Recall after each prediction, in falling confidence order.
        precision: Precision after each prediction, same order.

    Example:
        >>> round(average_precision(np.array([0.5, 1.0]), np.array([1.0, 1.0])), 3)
        0.995
        >>> round(average_precision(np.array([0.5]), np.array([1.0])), 3)
        0.495
    """
    if len(recall) == 0:
        return 0.0
    # beyond the last recall reached, precision is 0
    last = recall[-1]
    mrec = np.concatenate(([0.0], recall, [last, 1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0, 0.0]))
    envelope = np.flip(np.maximum.accumulate(np.flip(mpre)))
    return float(np.trapezoid(np.interp(_RECALL_POINTS, mrec, envelope), _RECALL_POINTS))


@dataclass(frozen=True, slots=True)
class ClassScore:
    """Scores of one class.

    Attributes:
        class_id: The class.
        instances: Its truth boxes.
        precision: Precision at the F1-optimal confidence.
        recall: Recall at the F1-optimal confidence.
        ap50: AP at IoU 0.5.
        ap50_95: AP averaged over IoU 0.5:0.95.
    """

    class_id: int
    instances: int
    precision: float
    recall: float
    ap50: float
    ap50_95: float


@dataclass(frozen=True, slots=True)
class DetectionScores:
    """Scores of a whole split.

    Attributes:
        per_class: One entry per class id ``0..num_classes-1`` (zeros for a class without
            truth boxes).
        map50: Mean AP50 over the classes with truth boxes.
        map50_95: Mean AP50-95 over the same classes.
        confidence: The confidence at which ``precision`` and ``recall`` were read.
    """

    per_class: list[ClassScore]
    map50: float
    map50_95: float
    confidence: float


def _smooth(values: npt.NDArray[np.float64], fraction: float = 0.1) -> npt.NDArray[np.float64]:
    width = round(len(values) * fraction * 2) // 2 + 1
    pad = np.ones(width // 2)
    padded = np.concatenate((pad * values[0], values, pad * values[-1]))
    out: npt.NDArray[np.float64] = np.convolve(padded, np.ones(width) / width, mode="valid")
    return out


@dataclass
class DetectionScorer:
    """Collects matched predictions image by image; :meth:`scores` turns them into metrics.

    Args:
        num_classes: Number of classes (class ids are ``0..num_classes-1``).
        thresholds: IoU thresholds (the first is the AP50 one).
    """

    num_classes: int
    thresholds: npt.NDArray[np.float64] = field(default_factory=lambda: IOU_THRESHOLDS.copy())
    _correct: list[npt.NDArray[np.bool_]] = field(default_factory=list, repr=False)
    _confidence: list[npt.NDArray[np.float32]] = field(default_factory=list, repr=False)
    _class_id: list[npt.NDArray[np.int64]] = field(default_factory=list, repr=False)
    _instances: npt.NDArray[np.int64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {self.num_classes}")
        self._instances = np.zeros(self.num_classes, dtype=np.int64)

    def add(self, predictions: Detections, truth: Detections) -> None:
        """Add one image: its predictions and its truth boxes (class ids of the same model)."""
        for name, d in (("prediction", predictions), ("truth", truth)):
            if len(d) and int(d.class_id.max()) >= self.num_classes:
                raise ValueError(f"{name} class id {int(d.class_id.max())} >= {self.num_classes}")
        self._correct.append(match_predictions(predictions, truth, self.thresholds))
        self._confidence.append(predictions.confidence.astype(np.float32))
        self._class_id.append(predictions.class_id.astype(np.int64))
        self._instances += np.bincount(truth.class_id, minlength=self.num_classes)

    def scores(self) -> DetectionScores:
        """AP per class and mAP over everything added so far."""
        n_thr = len(self.thresholds)
        correct = np.concatenate(self._correct) if self._correct else np.zeros((0, n_thr), bool)
        confidence = np.concatenate(self._confidence) if self._confidence else np.zeros(0)
        class_id = np.concatenate(self._class_id) if self._class_id else np.zeros(0, np.int64)
        order = np.argsort(-confidence, kind="stable")
        correct, confidence, class_id = correct[order], confidence[order], class_id[order]
        ap = np.zeros((self.num_classes, n_thr))
        p_curve = np.zeros((self.num_classes, len(_CONF_GRID)))
        r_curve = np.zeros((self.num_classes, len(_CONF_GRID)))
        for c in range(self.num_classes):
            mine = class_id == c
            n_truth = int(self._instances[c])
            if n_truth == 0 or not mine.any():
                continue
            tp = correct[mine].cumsum(axis=0).astype(np.float64)
            fp = (~correct[mine]).cumsum(axis=0).astype(np.float64)
            recall = tp / n_truth
            precision = tp / (tp + fp)
            conf = confidence[mine].astype(np.float64)
            r_curve[c] = np.interp(-_CONF_GRID, -conf, recall[:, 0], left=0.0)
            p_curve[c] = np.interp(-_CONF_GRID, -conf, precision[:, 0], left=1.0)
            for k in range(n_thr):
                ap[c, k] = average_precision(recall[:, k], precision[:, k])
        present = self._instances > 0
        f1 = 2 * p_curve * r_curve / np.maximum(p_curve + r_curve, 1e-16)
        best = int(_smooth(f1[present].mean(axis=0)).argmax()) if present.any() else 0
        per_class = [
            ClassScore(
                class_id=c,
                instances=int(self._instances[c]),
                precision=float(p_curve[c, best]) if present[c] else 0.0,
                recall=float(r_curve[c, best]) if present[c] else 0.0,
                ap50=float(ap[c, 0]),
                ap50_95=float(ap[c].mean()),
            )
            for c in range(self.num_classes)
        ]
        return DetectionScores(
            per_class=per_class,
            map50=float(ap[present, 0].mean()) if present.any() else 0.0,
            map50_95=float(ap[present].mean()) if present.any() else 0.0,
            confidence=float(_CONF_GRID[best]),
        )
