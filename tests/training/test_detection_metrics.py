"""training.detection_metrics: IoU, COCO-style matching, AP and mAP on hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest

from edge.types import Detections
from training.detection_metrics import (
    DetectionScorer,
    average_precision,
    box_iou,
    match_predictions,
)

NAMES = ("person", "car")


def _d(rows: list[tuple[float, float, float, float, float, int]]) -> Detections:
    """Detections from ``(x1, y1, x2, y2, confidence, class_id)`` rows."""
    if not rows:
        return Detections.empty(NAMES)
    a = np.asarray(rows, dtype=np.float64)
    return Detections(
        a[:, :4].astype(np.float32), a[:, 4].astype(np.float32), a[:, 5].astype(np.int64), NAMES
    )


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),  # empty boxes: no overlap, no division by zero
    ],
)
def test_box_iou(a: list[float], b: list[float], expected: float) -> None:
    got = box_iou(np.array([a], np.float32), np.array([b], np.float32))
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(expected)


def test_box_iou_of_nothing_is_an_empty_matrix() -> None:
    assert box_iou(np.empty((0, 4), np.float32), np.ones((3, 4), np.float32)).shape == (0, 3)


def test_the_more_confident_prediction_takes_the_truth_box() -> None:
    # the second prediction overlaps better, but the first is more confident: COCO's rule
    # gives the truth box to the first, and the second is a duplicate (false positive)
    truth = _d([(0, 0, 10, 10, 1.0, 0)])
    predictions = _d([(0, 0, 10, 8, 0.9, 0), (0, 0, 10, 10, 0.5, 0)])
    correct = match_predictions(predictions, truth, np.array([0.5]))
    assert correct[:, 0].tolist() == [True, False]


def test_a_taken_truth_box_leaves_the_next_prediction_its_second_best() -> None:
    truth = _d([(0, 0, 10, 10, 1.0, 0), (6, 0, 16, 10, 1.0, 0)])
    predictions = _d([(0, 0, 10, 10, 0.9, 0), (3, 0, 13, 10, 0.8, 0)])
    correct = match_predictions(predictions, truth, np.array([0.5]))
    # the second overlaps both by 0.54; the first took the left one, so it takes the right one
    assert correct[:, 0].tolist() == [True, True]


@pytest.mark.parametrize(
    ("prediction", "thresholds", "expected"),
    [
        ((0, 0, 10, 10, 0.9, 1), [0.5], [False]),  # right place, wrong class
        ((0, 0, 10, 6, 0.9, 0), [0.5, 0.75], [True, False]),  # IoU 0.6
        ((0, 0, 10, 10, 0.9, 0), [0.5, 0.95], [True, True]),
    ],
)
def test_class_and_threshold_decide(
    prediction: tuple[float, float, float, float, float, int],
    thresholds: list[float],
    expected: list[bool],
) -> None:
    truth = _d([(0, 0, 10, 10, 1.0, 0)])
    correct = match_predictions(_d([prediction]), truth, np.array(thresholds))
    assert correct[0].tolist() == expected


def test_nothing_to_match() -> None:
    assert match_predictions(_d([]), _d([(0, 0, 1, 1, 1.0, 0)])).shape == (0, 10)
    assert not match_predictions(_d([(0, 0, 1, 1, 0.5, 0)]), _d([])).any()


@pytest.mark.parametrize(
    ("recall", "precision", "expected"),
    [
        # a perfect ranking: the last of the 101 points falls on the drop to 0
        ([0.5, 1.0], [1.0, 1.0], 0.995),
        # precision falls to 0 past the last recall reached: about half the area
        ([0.5], [1.0], 0.495),
        # a false positive first: the envelope is 0.5 everywhere
        ([0.0, 1.0], [0.0, 0.5], 0.4975),
        ([], [], 0.0),
    ],
)
def test_average_precision(recall: list[float], precision: list[float], expected: float) -> None:
    got = average_precision(np.asarray(recall, np.float64), np.asarray(precision, np.float64))
    assert got == pytest.approx(expected, abs=1e-3)


def test_scores_of_a_perfect_and_of_a_half_found_split() -> None:
    truth = _d([(0, 0, 10, 10, 1.0, 0), (20, 20, 40, 40, 1.0, 1)])
    perfect = DetectionScorer(num_classes=2)
    perfect.add(truth, truth)
    scores = perfect.scores()
    assert scores.map50 == pytest.approx(0.995) and scores.map50_95 == pytest.approx(0.995)
    assert [(c.instances, c.precision, c.recall) for c in scores.per_class] == [
        (1, 1.0, 1.0),
        (1, 1.0, 1.0),
    ]

    half = DetectionScorer(num_classes=2)
    half.add(_d([(0, 0, 10, 10, 0.8, 0)]), truth)  # the car is missed
    scores = half.scores()
    assert [c.ap50 for c in scores.per_class] == pytest.approx([0.995, 0.0])
    assert scores.map50 == pytest.approx(0.4975)


def test_classes_without_truth_do_not_count_in_the_mean() -> None:
    scorer = DetectionScorer(num_classes=2)
    scorer.add(_d([(0, 0, 10, 10, 0.8, 0), (50, 50, 60, 60, 0.7, 1)]), _d([(0, 0, 10, 10, 1, 0)]))
    scores = scorer.scores()
    assert scores.per_class[1].instances == 0 and scores.per_class[1].ap50 == 0.0
    assert scores.map50 == pytest.approx(0.995)


def test_an_empty_split_scores_zero() -> None:
    scores = DetectionScorer(num_classes=2).scores()
    assert scores.map50 == 0.0 and len(scores.per_class) == 2


def test_false_positives_ranked_above_the_hit_lower_ap() -> None:
    truth = _d([(0, 0, 10, 10, 1.0, 0)])
    scorer = DetectionScorer(num_classes=1)
    scorer.add(_d([(50, 50, 60, 60, 0.9, 0), (0, 0, 10, 10, 0.5, 0)]), truth)
    # recall 1 reached at precision 1/2
    assert scorer.scores().map50 == pytest.approx(0.4975, abs=1e-3)


def test_class_ids_beyond_the_scorer_are_refused() -> None:
    scorer = DetectionScorer(num_classes=1)
    with pytest.raises(ValueError, match="class id 1"):
        scorer.add(_d([(0, 0, 1, 1, 0.5, 1)]), _d([]))
    with pytest.raises(ValueError, match="at least 1"):
        DetectionScorer(num_classes=0)
