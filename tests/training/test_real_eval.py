"""The real-image evaluation: scoring rules without data, and one small run on the shared data."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from edge.detectors import OBJECT_NAMES
from edge.registry import load_registry
from edge.types import Detections
from training.real_eval.data import (
    edge_settings,
    find_real_data,
    registry_models,
    teacher_model,
)
from training.real_eval.records import (
    ClassAgreement,
    ClipResult,
    CoverOutcome,
    ModelRealReport,
    PhotoResult,
    TruckPhotoResult,
    Verdict,
    agreement,
    cover_outcome,
    per_camera_hour,
    summarize,
)
from training.real_eval.run import RealEvalReport, evaluate_real
from training.real_eval.table import render_real_table, summary_rows

SHA = "0" * 64


def _outcome(loaded: bool, decided: bool, right: bool, accused: bool) -> CoverOutcome:
    return CoverOutcome(loaded=loaded, decided=decided, right=right, wrongly_accused=accused)


@pytest.mark.parametrize(
    ("folder", "verdict", "expected"),
    [
        (0, None, _outcome(False, False, False, False)),
        (0, "covered", _outcome(False, False, False, False)),
        (0, "uncovered", _outcome(False, False, False, True)),  # empty truck accused
        (1, "uncovered", _outcome(True, True, False, True)),  # partly covered counts as covered
        (1, "covered", _outcome(True, True, True, False)),
        (2, "uncovered", _outcome(True, True, False, True)),
        (2, "covered", _outcome(True, True, True, False)),
        (2, None, _outcome(True, False, False, False)),
        (3, "uncovered", _outcome(True, True, True, False)),
        (3, "covered", _outcome(True, True, False, False)),  # a miss, not an accusation
        (3, None, _outcome(True, False, False, False)),
    ],
)
def test_accusation_rule(folder: int, verdict: Verdict | None, expected: CoverOutcome) -> None:
    assert cover_outcome(folder, verdict) == expected


@pytest.mark.parametrize("folder", [-1, 4, 9])
def test_unknown_folder_is_refused(folder: int) -> None:
    with pytest.raises(ValueError, match="unknown cover folder"):
        cover_outcome(folder, "covered")


@pytest.mark.parametrize(
    ("count", "seconds", "rate"),
    [(3, 90.0, 120.0), (0, 30.0, 0.0), (1, 3600.0, 1.0), (58, 87.0, 2400.0)],
)
def test_per_camera_hour(count: int, seconds: float, rate: float) -> None:
    assert per_camera_hour(count, seconds) == pytest.approx(rate)


@pytest.mark.parametrize(("count", "seconds"), [(1, 0.0), (1, -5.0), (-1, 10.0)])
def test_per_camera_hour_refuses_bad_input(count: int, seconds: float) -> None:
    with pytest.raises(ValueError):
        per_camera_hour(count, seconds)


def _dets(*boxes: tuple[str, float, float, float, float, float]) -> Detections:
    if not boxes:
        return Detections.empty(OBJECT_NAMES)
    return Detections(
        xyxy=np.array([b[2:] for b in boxes], dtype=np.float32),
        confidence=np.array([b[1] for b in boxes], dtype=np.float32),
        class_id=np.array([OBJECT_NAMES.index(b[0]) for b in boxes], dtype=np.int64),
        names=OBJECT_NAMES,
    )


def _counts(result: list[ClassAgreement]) -> dict[str, tuple[int, int, int]]:
    return {a.name: (a.model_boxes, a.teacher_boxes, a.matched) for a in result}


CAR = ("car", 0.9, 0.0, 0.0, 10.0, 10.0)


@pytest.mark.parametrize(
    ("model", "teacher", "car"),
    [
        ((), (), (0, 0, 0)),  # the empty case
        ((CAR,), (CAR,), (1, 1, 1)),
        ((CAR,), (), (1, 0, 0)),
        ((), (CAR,), (0, 1, 0)),
        ((CAR,), (("car", 0.9, 5.0, 0.0, 15.0, 10.0),), (1, 1, 0)),  # IoU 1/3 < 0.5
        ((CAR,), (("car", 0.9, 2.0, 0.0, 12.0, 10.0),), (1, 1, 1)),  # IoU 0.67
        ((CAR, ("car", 0.5, 1.0, 0.0, 11.0, 10.0)), (CAR,), (2, 1, 1)),  # one-to-one
    ],
)
def test_agreement_matches_one_to_one_at_iou_half(
    model: tuple[tuple[str, float, float, float, float, float], ...],
    teacher: tuple[tuple[str, float, float, float, float, float], ...],
    car: tuple[int, int, int],
) -> None:
    counts = _counts(agreement(_dets(*model), _dets(*teacher)))
    assert counts["car"] == car
    assert counts["person"] == counts["truck"] == (0, 0, 0)


def test_agreement_never_matches_across_classes() -> None:
    person = ("person", 0.9, 0.0, 0.0, 10.0, 10.0)
    counts = _counts(agreement(_dets(person), _dets(CAR)))
    assert counts == {"person": (1, 0, 0), "car": (0, 1, 0), "truck": (0, 0, 0)}


def test_agreement_refuses_other_vocabularies() -> None:
    other = Detections.empty(("cat", "dog"))
    with pytest.raises(ValueError, match="differ"):
        agreement(_dets(CAR), other)


def _report(
    label: str = "m",
    *,
    false_frames: int = 3,
    verdicts: tuple[Verdict | None, ...] = ("covered", "uncovered", None, "uncovered"),
) -> ModelRealReport:
    return ModelRealReport(
        model=label,
        file="m.onnx",
        sha256=SHA,
        teacher=False,
        has_bare_soil=True,
        clips=[
            ClipResult(
                file="a.mp4",
                frames=60,
                seconds=30.0,
                false_frames=false_frames,
                false_boxes=5,
                tracked_false_boxes=2,
            ),
            ClipResult(
                file="b.avi",
                frames=20,
                seconds=10.0,
                false_frames=1,
                false_boxes=1,
                tracked_false_boxes=0,
            ),
        ],
        trucks=[
            TruckPhotoResult(
                file=f"t{folder}.jpg",
                folder=folder,
                truck_confidence=None if v is None else 0.8,
                p_uncovered=None if v is None else (0.9 if v == "uncovered" else 0.1),
                verdict=v,
            )
            for folder, v in zip((0, 1, 2, 3), verdicts, strict=True)
        ],
        photos=[
            PhotoResult(file="s.png", shows=["stall", "person"], free_of=[], found=["goods"]),
            PhotoResult(file="d.jpg", shows=["bare_soil"], free_of=["stall", "goods"], found=[]),
            PhotoResult(file="c.jpg", shows=[], free_of=["stall", "goods"], found=["stall"]),
        ],
        agreement=[ClassAgreement(name="car", model_boxes=10, teacher_boxes=8, matched=6)],
        ms_per_frame=50.0,
    )


def test_summary_counts_every_column() -> None:
    s = summarize(_report())
    assert (s.clip_frames, s.clip_seconds, s.false_frames, s.false_boxes) == (80, 40.0, 4, 6)
    assert s.false_share == pytest.approx(0.05)
    assert s.false_per_hour == pytest.approx(540.0)  # 6 boxes in 40 s of camera time
    assert (s.trucks, s.trucks_found, s.loaded, s.decided, s.right) == (4, 3, 3, 2, 1)
    # 'uncovered' on the partly covered truck (folder 1) is the one wrong accusation;
    # the uncovered truck (folder 3) got that verdict rightly
    assert (s.accusable, s.wrongly_accused) == (3, 1)
    assert (s.stall_photos, s.stall_found, s.soil_photos, s.soil_found) == (1, 1, 1, 0)
    assert (s.clean_photos, s.clean_false) == (2, 1)


def test_table_has_one_row_per_model_and_the_numbers() -> None:
    rows = summary_rows([summarize(_report("v5")), summarize(_report("v4", false_frames=0))])
    assert len(rows) == 4
    assert all(r.count("|") == rows[0].count("|") for r in rows)
    assert rows[2].startswith(
        "| v5 | 4/80 (5 %) | 540 | 3/4 (75 %) | 2/3 (67 %) | 1 / 1 | 1 of 3 |"
    )
    assert "| 0.60 / 0.75 (6 of 10 / 8) |" in rows[2]
    assert rows[3].startswith("| v4 | 1/80 (1 %) |")


def _numbers(cell: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", cell)]


@pytest.mark.shared_data
@pytest.mark.slow
def test_small_real_run_fills_the_table(shared_data: Path) -> None:
    data = find_real_data(shared_data)
    assert len(data.clips) == 4 and len(data.trucks) == 14
    small = dataclasses.replace(
        data,
        clips=data.clips[:1],
        trucks=data.trucks[:2],
        photos=tuple(p for p in data.photos if p.file == "images/street.png"),
    )
    settings = edge_settings()
    default = registry_models(load_registry())[0]
    teacher = teacher_model(shared_data)
    report = evaluate_real(
        [default, teacher], small, settings, teacher_path=teacher.path, clip_limit=4
    )
    again = RealEvalReport.model_validate_json(report.model_dump_json())
    assert again == report
    table = render_real_table(report)
    rows = [r for r in table.splitlines() if r.startswith("| ")]
    header, default_row, teacher_row = rows[0], rows[1], rows[2]
    assert header.count("|") == default_row.count("|") == teacher_row.count("|") == 13
    assert default_row.startswith(f"| {default.label} | ")
    cells = default_row.strip("|").split("|")
    share, trucks = _numbers(cells[1]), _numbers(cells[3])
    assert share[1] == 4 and 0 <= share[0] <= 4 and 0 <= share[2] <= 100
    assert trucks[1] == 2 and 0 <= trucks[0] <= 2
    precision_recall = _numbers(cells[7])[:2]
    assert all(0.0 <= v <= 1.0 for v in precision_recall)
    assert "(reference)" in teacher_row
    for s in report.summaries:
        assert 0.0 <= s.false_share <= 1.0 and s.false_per_hour >= 0.0
        assert s.decided <= s.loaded <= s.trucks and s.wrongly_accused <= s.accusable
        assert s.stall_photos == 1 and s.stall_found <= 1
    # per file: the clip's 4 frames, then one line per truck photo
    assert "| videos/bgslibrary_video02.avi | " in table
    assert table.count("(folder ") == 2
