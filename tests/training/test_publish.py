"""The run summary and model card that `civicwatch publish` writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.rules.settings import MuckTruckSettings
from training.config import DEFAULT_CONFIG, REPO_ROOT, load_config
from training.evaluate import ClassHits, ClassMetrics, HoldoutReport, RealFileResult
from training.publish import (
    PublishReport,
    RunSummary,
    StageSummary,
    architecture_line,
    default_gate,
    render_card,
    summarize_run,
)
from training.real_eval.data import EdgeSettings
from training.real_eval.gate import DefaultRefusedError, decide_default, worse_than_default
from training.real_eval.records import ModelRealReport, RealSummary, TruckPhotoResult
from training.real_eval.run import RealEvalReport
from training.registry import entry_for, upsert_entry
from training.scenes.classes import CLASSES
from training.scenes.dataset import GENERATOR_VERSION

HEADER = (
    "epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),"
    "metrics/recall(B),metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,"
    "val/dfl_loss,lr/pg0,lr/pg1,lr/pg2"
)


def test_summarize_run_picks_the_best_epoch_by_fitness(tmp_path: Path) -> None:
    rows = [
        "1,80.0,4,4,3,0.1,0.1,0.20,0.10,4,4,2,0.001,0.001,0.06",
        "2,160.5,3,3,2,0.5,0.5,0.95,0.50,3,3,2,0.001,0.001,0.03",
        "3,240.0,2,2,1,0.6,0.6,0.90,0.60,2,2,1,0.001,0.001,0.01",
    ]
    (tmp_path / "results.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    run = summarize_run(tmp_path)
    assert run.epochs == 3 and run.wall_s == 240.0
    assert run.best_epoch == 3  # fitness 0.1 * mAP50 + 0.9 * mAP50-95
    assert (run.val_map50, run.val_map50_95) == (0.90, 0.60)


def _report(tmp_path: Path) -> PublishReport:
    per_class = [
        ClassMetrics(name=c, instances=10, precision=0.9, recall=0.8, map50=0.91, map50_95=0.6)
        for c in CLASSES
    ]
    holdout = HoldoutReport(
        model="m.onnx",
        sha256="a" * 64,
        dataset="d",
        seed=9001,
        images=300,
        imgsz=320,
        map50=0.91,
        map50_95=0.6,
        per_class=per_class,
        wall_s=10.0,
    )
    return PublishReport(
        model=str(tmp_path / "civicwatch-street-v1.onnx"),
        sha256="a" * 64,
        size_bytes=7_000_000,
        checkpoint="last.pt",
        stages=[
            StageSummary(
                command="civicwatch train --config configs/train.yaml",
                run_dir="r1",
                summary=summarize_run_stub(),
            ),
            StageSummary(
                command="civicwatch train --from r1/weights/best.pt",
                run_dir="r2",
                summary=summarize_run_stub(),
            ),
        ],
        notes=["stage 1 data came from an earlier generator"],
        holdout=holdout,
        int8=None,
        int8_size_bytes=None,
        real=[
            RealFileResult(
                file="images/street.png",
                frames=1,
                per_class={"stall": ClassHits(frames=1, detections=2, max_confidence=0.4)},
                ms_per_frame=20.0,
            )
        ],
        card="c.md",
        registry="r.yaml",
    )


def test_card_states_command_metrics_hash_and_limits(tmp_path: Path) -> None:
    report = _report(tmp_path)
    card = render_card(report, load_config(DEFAULT_CONFIG), name="civicwatch-street", version="1")
    assert "1. `civicwatch train --config configs/train.yaml`: 30 epochs, 41.7 min" in card
    assert "2. `civicwatch train --from r1/weights/best.pt`" in card
    assert "83.3 min of training wall time" in card
    assert "The published file is the last stage's `last.pt`" in card
    assert "* stage 1 data came from an earlier generator" in card
    assert "a" * 64 in card
    assert "| stall | 10 | 0.900 | 0.800 | 0.910 | 0.600 |" in card
    # held against the by-eye truth: street.png shows stalls, people and cars
    assert "| images/street.png (1 frame) | Times Square" in card
    assert "| stall 1/0.40 | person, car | - | 20 |" in card
    version = f"version {GENERATOR_VERSION}"
    assert f"generator\n  {version}" in card or f"generator {version}" in card
    assert "## Known limits" in card and "never seen a real photograph" in card
    assert (
        "| architecture | `training/arch/civicwatch-street.yaml`: YOLOv8 layout, depth 0.33, "
        "width 0.1875 (narrower than YOLOv8n), 3 output levels (strides 8, 16, 32); trained"
    ) in card


def test_card_names_the_grown_layout_and_where_it_grew_from() -> None:
    recipe = load_config(REPO_ROOT / "training" / "recipes" / "street-v1" / "stage7-p2-416.yaml")
    line = architecture_line(recipe)
    assert line.startswith("`training/arch/civicwatch-street-p2.yaml`: YOLOv8 layout")
    assert "4 output levels (strides 8, 16, 32 and 4)" in line
    assert "grown from a model of `training/arch/civicwatch-street.yaml`" in line


def summarize_run_stub() -> RunSummary:
    return RunSummary(epochs=30, wall_s=2500.0, best_epoch=29, val_map50=0.92, val_map50_95=0.61)


def test_publish_refuses_commands_that_do_not_match_the_stages(tmp_path: Path) -> None:
    from training.publish import publish

    weights = tmp_path / "run" / "weights" / "best.pt"
    with pytest.raises(ValueError, match="2 commands given for 1 training stages"):
        publish(load_config(DEFAULT_CONFIG), weights, commands=["a", "b"])


# The real-image gate: `publish --make-default` refuses a model worse than the default.


def _row(model: str, **changes: int) -> RealSummary:
    values = {
        "clip_frames": 160,
        "false_frames": 8,
        "false_boxes": 10,
        "trucks": 14,
        "trucks_found": 9,
        "loaded": 10,
        "decided": 3,
        "right": 3,
        "accusable": 10,
        "wrongly_accused": 1,
        "stall_photos": 1,
        "stall_found": 1,
        "soil_photos": 2,
        "soil_found": 1,
        "clean_photos": 20,
        "clean_false": 2,
    }
    values.update(changes)
    return RealSummary(model=model, clip_seconds=80.0, agreement=[], ms_per_frame=50.0, **values)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"false_frames": 9}, "stall/goods boxes on 5.6 % of the no-violation clip frames"),
        ({"trucks_found": 8}, "truck found on 8 of 14 truck photos (default: 9)"),
        ({"wrongly_accused": 2}, "2 wrongly accused empty or covered trucks (default: 1)"),
        ({"stall_found": 0}, "stall/goods found on 0 of 1 photos showing them (default: 1)"),
    ],
)
def test_gate_names_each_way_of_being_worse(changes: dict[str, int], reason: str) -> None:
    reasons = worse_than_default(_row("new", **changes), _row("v5"))
    assert len(reasons) == 1 and reasons[0].startswith(reason)
    with pytest.raises(DefaultRefusedError, match="worse than the default v5"):
        decide_default(_row("new", **changes), _row("v5"))


@pytest.mark.parametrize(
    "changes",
    [
        {},  # the same is not worse
        {"false_frames": 0, "trucks_found": 14, "wrongly_accused": 0},
        {"clean_false": 20, "decided": 0, "right": 0},  # columns the gate does not weigh
    ],
)
def test_gate_passes_a_model_that_is_not_worse(changes: dict[str, int]) -> None:
    gate = decide_default(_row("new", **changes), _row("v5"))
    assert gate.reasons == [] and not gate.forced
    assert (
        gate.card_line()
        == "Made the default: not worse than the previous default v5 on the real table."
    )


def test_gate_passes_when_there_is_no_default() -> None:
    gate = decide_default(_row("new", wrongly_accused=5), None)
    assert (gate.default, gate.reasons, gate.forced) == (None, [], False)


def test_forced_default_is_recorded_with_its_reasons() -> None:
    gate = decide_default(_row("new", trucks_found=0, false_frames=100), _row("v5"), force=True)
    assert gate.forced and len(gate.reasons) == 2
    line = gate.card_line()
    assert line.startswith("Made the default with `--force-default` although worse than the")
    assert "truck found on 0 of 14" in line and "62.5 %" in line


def test_gate_refuses_to_compare_different_material() -> None:
    with pytest.raises(ValueError, match="different material"):
        worse_than_default(_row("new", clip_frames=100), _row("v5"))


def test_gate_without_a_real_table_refuses_unless_forced(tmp_path: Path) -> None:
    with pytest.raises(DefaultRefusedError, match="real-image gate cannot run"):
        default_gate(None, force=False, data=tmp_path)
    forced = default_gate(None, force=True, data=tmp_path)
    assert forced.forced and "not measured" in forced.reasons[0]


def _model_report(label: str, *, teacher: bool = False, found: int = 0) -> ModelRealReport:
    return ModelRealReport(
        model=label,
        file=f"{label}.onnx",
        sha256="b" * 64,
        teacher=teacher,
        has_bare_soil=not teacher,
        clips=[],
        trucks=[
            TruckPhotoResult(
                file=f"t{k}.jpg",
                folder=3,
                truck_confidence=0.9 if k < found else None,
                p_uncovered=None,
                verdict=None,
            )
            for k in range(3)
        ],
        photos=[],
        agreement=[],
        ms_per_frame=10.0,
    )


def _real_table(candidate_found: int) -> RealEvalReport:
    return RealEvalReport(
        date="2026-12-04",
        machine="x86_64",
        command="civicwatch publish",
        data="/data",
        settings=EdgeSettings(
            source="configs/edge.yaml",
            confidence=0.35,
            iou=0.5,
            analysis_fps=2.0,
            muck_truck=MuckTruckSettings(),
            threads=2,
        ),
        clip_limit=None,
        models=[
            _model_report("new (candidate)", found=candidate_found),
            _model_report("civicwatch-street-v5 (default)", found=2),
            _model_report("teacher", teacher=True, found=3),
        ],
    )


def test_gate_on_a_real_table_compares_candidate_with_default_not_teacher() -> None:
    with pytest.raises(DefaultRefusedError, match="truck found on 1 of 3"):
        default_gate(_real_table(1), force=False)
    gate = default_gate(_real_table(2), force=False)
    assert gate.default == "civicwatch-street-v5 (default)" and gate.reasons == []


def test_registry_default_moves_only_when_asked(tmp_path: Path) -> None:
    registry = tmp_path / "registry.yaml"
    for k, make_default in ((1, True), (2, False)):
        model = tmp_path / f"m{k}.onnx"
        model.write_bytes(b"model %d" % k)
        entry = entry_for(model, registry, name="m", version=str(k), classes=["car"], imgsz=64)
        written = upsert_entry(registry, entry, make_default=make_default)
    assert written.default == "m1.onnx"


def test_card_has_the_real_table_and_the_gate_decision(tmp_path: Path) -> None:
    table = _real_table(2)
    gate = default_gate(table, force=False)
    card = render_card(
        _report(tmp_path).model_copy(update={"real_images": table, "default_gate": gate}),
        load_config(DEFAULT_CONFIG),
        name="civicwatch-street",
        version="6",
    )
    section = card.split("## Real images (`civicwatch evaluate --real`)")[1]
    assert "| new (candidate) | - | 0 | 2/3 (67 %) |" in section
    assert "Default: Made the default: not worse than the previous default" in section
    plain = render_card(_report(tmp_path), load_config(DEFAULT_CONFIG), name="c", version="6")
    assert "Default: Not made the default by this publish." in plain
