"""Class-aware NMS and the step from candidates to image-pixel detections."""

from __future__ import annotations

import numpy as np
import pytest

from edge.detectors.nms import Candidates, class_aware_nms, to_detections
from edge.detectors.transforms import ImageTransform


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _reference_nms(xyxy: np.ndarray, score: np.ndarray, cls: np.ndarray, iou: float) -> list[int]:
    """Greedy per-class NMS in plain Python: the definition the fast path must match."""
    kept: list[int] = []
    for i in np.argsort(-score, kind="stable"):
        if all(cls[j] != cls[i] or _iou(xyxy[i], xyxy[j]) <= iou for j in kept):
            kept.append(int(i))
    return kept


BOX = [0.0, 0.0, 10.0, 10.0]
NEAR = [1.0, 1.0, 11.0, 11.0]  # IoU with BOX = 81 / 119 = 0.68
FAR = [5.0, 0.0, 15.0, 10.0]  # IoU with BOX = 50 / 150 = 0.33

# boxes, scores, classes, iou threshold, max detections, expected kept indices in order
NMS_CASES = {
    "empty": ([], [], [], 0.5, 10, []),
    "single": ([BOX], [0.5], [0], 0.5, 10, [0]),
    "same class overlapping: best survives": ([BOX, NEAR], [0.6, 0.9], [0, 0], 0.5, 10, [1]),
    "different classes overlapping: both survive": (
        [BOX, NEAR],
        [0.6, 0.9],
        [0, 1],
        0.5,
        10,
        [1, 0],
    ),
    "identical boxes different classes": ([BOX, BOX], [0.7, 0.8], [2, 5], 0.5, 10, [1, 0]),
    "overlap below threshold: both survive": ([BOX, FAR], [0.9, 0.8], [0, 0], 0.5, 10, [0, 1]),
    "overlap above a low threshold": ([BOX, FAR], [0.9, 0.8], [0, 0], 0.3, 10, [0]),
    "max detections keeps the best": (
        [BOX, [20, 20, 30, 30], [40, 40, 50, 50]],
        [0.2, 0.9, 0.5],
        [0, 0, 0],
        0.5,
        2,
        [1, 2],
    ),
    "zero score kept (threshold is the decoder's job)": ([BOX], [0.0], [0], 0.5, 10, [0]),
}


@pytest.mark.parametrize(
    ("boxes", "scores", "classes", "iou", "max_det", "expected"),
    list(NMS_CASES.values()),
    ids=list(NMS_CASES),
)
def test_class_aware_nms_cases(
    boxes: list[list[float]],
    scores: list[float],
    classes: list[int],
    iou: float,
    max_det: int,
    expected: list[int],
) -> None:
    kept = class_aware_nms(
        np.array(boxes, dtype=np.float32).reshape(-1, 4),
        np.array(scores, dtype=np.float32),
        np.array(classes, dtype=np.int64),
        iou_threshold=iou,
        max_detections=max_det,
    )
    assert kept.dtype == np.int64
    assert kept.tolist() == expected


@pytest.mark.parametrize("seed", range(5))
def test_class_aware_nms_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    xy = rng.uniform(0, 300, size=(n, 2))
    wh = rng.uniform(5, 80, size=(n, 2))
    xyxy = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    score = (rng.permutation(n) / n).astype(np.float32)  # distinct scores: one right order
    cls = rng.integers(0, 3, size=n).astype(np.int64)
    kept = class_aware_nms(xyxy, score, cls, iou_threshold=0.45, max_detections=1000)
    assert kept.tolist() == _reference_nms(xyxy, score, cls, 0.45)


def _candidates(rows: list[list[float]]) -> Candidates:
    arr = np.array(rows, dtype=np.float32).reshape(-1, 6)
    return Candidates(arr[:, :4], arr[:, 4], arr[:, 5].astype(np.int64))


NAMES = ("stall", "person")


def test_to_detections_maps_clips_and_drops() -> None:
    # network = image * 0.5 + (0, 10)
    transform = ImageTransform(0.5, 0.5, 0.0, 10.0)
    candidates = _candidates(
        [
            [10, 20, 30, 40, 0.9, 0],  # -> (20, 20, 60, 60)
            [-5, 5, 20, 30, 0.8, 1],  # partly outside -> clipped to (0, 0, 40, 40)
            [0, 0, 50, 8, 0.7, 1],  # entirely in the top padding -> dropped
            [90, 20, 120, 40, 0.6, 0],  # right edge clipped at the image width 200
        ]
    )
    d = to_detections(
        candidates,
        transform=transform,
        image_wh=(200, 100),
        names=NAMES,
        iou_threshold=0.5,
        max_detections=10,
    )
    assert d.names == NAMES
    np.testing.assert_allclose(
        d.xyxy, [[20, 20, 60, 60], [0, 0, 40, 40], [180, 20, 200, 60]], atol=1e-4
    )
    assert d.confidence.tolist() == pytest.approx([0.9, 0.8, 0.6])
    assert d.class_id.tolist() == [0, 1, 0]
    assert d.xyxy.dtype == np.float32 and d.class_id.dtype == np.int64


def test_to_detections_empty() -> None:
    d = to_detections(
        Candidates.empty(),
        transform=ImageTransform(1.0, 1.0),
        image_wh=(10, 10),
        names=NAMES,
        iou_threshold=0.5,
        max_detections=10,
    )
    assert len(d) == 0 and d.names == NAMES


def test_to_detections_without_nms_keeps_overlaps_best_first() -> None:
    candidates = _candidates([[0, 0, 10, 10, 0.5, 0], [0, 0, 10, 10, 0.9, 0]])

    def run(nms: bool) -> list[float]:
        d = to_detections(
            candidates,
            transform=ImageTransform(1.0, 1.0),
            image_wh=(20, 20),
            names=NAMES,
            iou_threshold=0.5,
            max_detections=10,
            nms=nms,
        )
        return [float(c) for c in d.confidence]

    assert run(nms=False) == pytest.approx([0.9, 0.5])
    assert run(nms=True) == pytest.approx([0.9])


def test_candidates_refuse_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match="disagree"):
        Candidates(np.zeros((2, 4), np.float32), np.zeros(3, np.float32), np.zeros(2, np.int64))
