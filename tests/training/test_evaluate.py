"""training.evaluate without a model: the by-eye truth of the real files and the honest table."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.evaluate import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    ClassHits,
    RealFileResult,
    load_footage_truth,
    real_data_table,
)


def _result(file: str, **found: float) -> RealFileResult:
    return RealFileResult(
        file=file,
        frames=20,
        per_class={
            n: ClassHits(frames=3, detections=4, max_confidence=s) for n, s in found.items()
        },
        ms_per_frame=12.0,
    )


def test_table_names_missed_classes_and_false_alarms() -> None:
    truth = load_footage_truth()
    table = real_data_table(
        [
            _result("images/construction_dust/02.jpg", truck=0.8, stall=0.4),
            _result("videos/bgslibrary_video02.avi", car=0.9, truck=0.6),
            _result("unknown.mp4", person=0.5),
        ],
        truth,
    )
    rows = table.splitlines()[2:]
    # dump truck on a dirt road: soil missed, the stall is a false alarm
    assert rows[0].endswith("| truck 3/0.80, stall 3/0.40 | bare_soil | stall | 12 |")
    # a box truck on the highway is arguable, not a false alarm
    assert rows[1].endswith("| car 3/0.90, truck 3/0.60 | - | - | 12 |")
    assert "(not described) | person 3/0.50 | ? | ? |" in rows[2]


def test_truth_file_rejects_unknown_classes(tmp_path: Path) -> None:
    bad = tmp_path / "truth.yaml"
    bad.write_text("a.jpg:\n  shows: a bus\n  present: [bus]\n")
    with pytest.raises(ValueError, match=r"unknown classes \['bus'\]"):
        load_footage_truth(bad)


def test_every_shared_file_is_described(shared_data: Path) -> None:
    truth = load_footage_truth()
    files = {
        p.relative_to(shared_data).as_posix()
        for p in shared_data.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES and "weights" not in p.parts
    }
    assert files <= set(truth), f"not described in real_footage.yaml: {sorted(files - set(truth))}"


def test_yolo_labels_become_pixel_boxes(tmp_path: Path) -> None:
    from training.evaluate import read_yolo_labels
    from training.scenes.classes import CLASSES

    label = tmp_path / "a.txt"
    label.write_text("2 0.5 0.25 0.5 0.1\n\n0 0.1 0.9 0.2 0.2\n")
    truth = read_yolo_labels(label, (400, 200), CLASSES)
    assert truth.class_id.tolist() == [2, 0]
    assert truth.xyxy.ravel().tolist() == pytest.approx([100, 40, 300, 60, 0, 160, 80, 200])
    assert len(read_yolo_labels(tmp_path / "missing.txt", (400, 200), CLASSES)) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [("2 0.5 0.5 0.1\n", r"a.txt:1: expected"), ("9 0.5 0.5 0.1 0.1\n", "out of range")],
)
def test_malformed_yolo_labels_are_refused(tmp_path: Path, text: str, message: str) -> None:
    from training.evaluate import read_yolo_labels
    from training.scenes.classes import CLASSES

    label = tmp_path / "a.txt"
    label.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_yolo_labels(label, (400, 200), CLASSES)


def test_holdout_runs_the_edge_plugin_at_map_thresholds(tmp_path: Path) -> None:
    from edge.detectors.plugins.yolo import YoloDetector
    from edge.registry import default_model
    from training.config import DEFAULT_CONFIG, load_config
    from training.evaluate import HOLDOUT_CONFIDENCE, evaluate_holdout, holdout_detector
    from training.scenes.classes import CLASSES

    model = default_model()
    detector = holdout_detector(model)
    assert isinstance(detector, YoloDetector)
    assert detector.config.confidence == HOLDOUT_CONFIDENCE == 0.001

    config = load_config(DEFAULT_CONFIG)
    small = config.holdout.model_copy(update={"root": tmp_path / "holdout", "count": 4})
    report = evaluate_holdout(config.model_copy(update={"holdout": small}), model)
    labelled = sum(
        len(f.read_text().splitlines()) for f in (tmp_path / "holdout/labels/val").glob("*.txt")
    )
    assert report.images == 4 and [c.name for c in report.per_class] == list(CLASSES)
    assert sum(c.instances for c in report.per_class) == labelled > 0
    assert report.imgsz == max(detector.input_size)
    # rendered scenes of the kind it was trained on: the shipped model finds most objects
    assert 0.5 < report.map50 <= 1.0
