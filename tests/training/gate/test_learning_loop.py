"""The learning loop, short: real cases -> scripted review -> export -> train -> gate.

The full run (more frames, more epochs) is bench/bench_learning.py; its figures are in
bench/RESULTS.md. This version keeps every stage real and small enough for ``make test``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.learning_loop import LoopParams, run_loop
from training.config import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.training, pytest.mark.shared_data]


def _shared() -> Path:
    env = os.environ.get("CIVICWATCH_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.mark.timeout(1200)
def test_reviewed_cases_train_a_candidate_that_the_gate_judges(
    tmp_path: Path, ultralytics_offline: Path
) -> None:
    shared = _shared()
    if not (shared / "videos").is_dir():
        pytest.skip(f"the real no-violation clips are not at {shared} (CIVICWATCH_SHARED_DATA)")
    result = run_loop(
        tmp_path,
        shared,
        LoopParams(frames_per_clip=8, scenes=16, train_scenes=16, holdout_scenes=8),
        Path(os.environ["YOLO_CONFIG_DIR"]),
    )
    # the default raises false stall/goods cases on real clips; the reviewer rejects them
    assert result.review.rejected_wrong_object > 0
    assert result.export.kinds.get("hard_negative", 0) > 0
    assert result.export.frames["test"] > 0
    manifest = [
        json.loads(line)
        for line in (tmp_path / "export" / "manifest.jsonl").read_text().splitlines()
    ]
    groups: dict[str, set[str]] = {}
    for entry in manifest:
        groups.setdefault(entry["group"], set()).add(entry["split"])
    assert all(len(splits) == 1 for splits in groups.values())
    report = json.loads(result.gate_json.read_text())
    materials = {check["material"] for check in report["decision"]["checks"]}
    assert materials == {"reviewed", "holdout"}
    assert report["decision"]["skipped"] == ["real-image table: --no-real given"]
    assert report["decision"]["passed"] == all(c["passed"] for c in report["decision"]["checks"])
    assert "Model gate: candidate against" in result.gate_md.read_text()
    assert result.false_default > 0 and result.camera_hours > 0
