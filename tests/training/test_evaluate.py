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
