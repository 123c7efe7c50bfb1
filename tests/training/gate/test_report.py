"""The gate report: Markdown, files, and what publish does with it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.training.gate.test_decide import GOOD, holdout, reviewed
from training.gate.decide import decide
from training.gate.report import GatedModel, GateReport
from training.publish import GateMismatchError, _gate_record, _gated_file
from training.registry import entry_for, load_registry, sha256_file, upsert_entry


def report(candidate: Path, false_cases: int) -> GateReport:
    cand, against = reviewed(false_cases, GOOD), reviewed(5, GOOD)
    decision = decide(
        reviewed=(cand, against),
        holdout=(holdout(0.9, 0.8), holdout(0.9, 0.8)),
        real=None,
        skipped=["real-image table: absent"],
    )
    return GateReport(
        created_at=datetime(2026, 12, 5, tzinfo=UTC),
        command="civicwatch models gate ...",
        machine="test",
        split="export (test)",
        candidate=GatedModel(
            label="cand",
            file=str(candidate),
            sha256=sha256_file(candidate),
            reviewed=cand,
            holdout=None,
            real=None,
        ),
        against=GatedModel(
            label="default",
            file="d.onnx",
            sha256="0" * 64,
            reviewed=against,
            holdout=None,
            real=None,
        ),
        decision=decision,
    )


def test_markdown_and_files(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model")
    passed = report(model, 1)
    assert passed.passed and passed.verdict_line().startswith("gate PASSED")
    text = passed.markdown()
    assert "| reviewed | false cases | 1 | 5 |" in text and "Skipped: real-image table" in text
    json_path, md_path = passed.write(tmp_path / "out" / "gate")
    assert GateReport.model_validate_json(json_path.read_text()) == passed
    assert md_path.read_text() == text
    failed = report(model, 6)
    assert not failed.passed and "false cases: 6.000 vs 5.000" in failed.verdict_line()


def test_publish_records_only_a_report_on_its_own_file(tmp_path: Path) -> None:
    model = tmp_path / "models" / "cand.onnx"
    model.parent.mkdir()
    model.write_bytes(b"model")
    other = tmp_path / "other.onnx"
    other.write_bytes(b"another model")
    path = tmp_path / "gate.json"
    path.write_text(report(other, 1).model_dump_json())
    with pytest.raises(GateMismatchError, match="gate the exported file"):
        _gate_record(path, model, make_default=False)
    path.write_text(report(model, 6).model_dump_json())
    with pytest.raises(GateMismatchError, match="not made the default"):
        _gate_record(path, model, make_default=True)
    recorded, copy = _gate_record(path, model, make_default=False)
    assert recorded is not None and not recorded.passed
    assert copy == model.with_name("cand-gate.json") and copy.is_file()
    registry = tmp_path / "models" / "registry.yaml"
    entry = entry_for(
        model, registry, name="cand", version="1", classes=["stall"], imgsz=320, gate=copy
    )
    upsert_entry(registry, entry)
    assert load_registry(registry).get("cand").gate == "cand-gate.json"
    assert "gate" not in registry.read_text().split("cand-gate.json")[0].split("- name")[0]


def test_publish_takes_the_judged_file_itself(tmp_path: Path) -> None:
    judged = tmp_path / "candidate.onnx"
    judged.write_bytes(b"the judged model")
    path = tmp_path / "gate.json"
    path.write_text(report(judged, 1).model_dump_json())
    out = _gated_file(path, tmp_path / "models" / "street-v6.onnx")
    assert out.read_bytes() == b"the judged model"
    judged.write_bytes(b"changed since")
    with pytest.raises(GateMismatchError, match="gone or changed"):
        _gated_file(path, tmp_path / "models" / "street-v7.onnx")
