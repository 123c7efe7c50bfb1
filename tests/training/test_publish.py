"""The run summary and model card that `civicwatch publish` writes."""

from __future__ import annotations

from pathlib import Path

from training.config import DEFAULT_CONFIG, REPO_ROOT, load_config
from training.evaluate import ClassHits, ClassMetrics, HoldoutReport, RealFileResult
from training.publish import (
    PublishReport,
    RunSummary,
    StageSummary,
    architecture_line,
    render_card,
    summarize_run,
)
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


def test_card_states_command_metrics_hash_and_limits(tmp_path: Path) -> None:
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
    report = PublishReport(
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
    import pytest

    from training.publish import publish

    weights = tmp_path / "run" / "weights" / "best.pt"
    with pytest.raises(ValueError, match="2 commands given for 1 training stages"):
        publish(load_config(DEFAULT_CONFIG), weights, commands=["a", "b"])
