"""Run the gate: both models on the reviewed split, the held-out scenes and the real table."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from training.config import TrainConfig
from training.evaluate import HoldoutReport, evaluate_holdout
from training.gate.decide import MAX_RECALL_DROP, decide
from training.gate.report import GatedModel, GateReport
from training.gate.reviewed import evaluate_reviewed
from training.real_eval.data import EdgeSettings
from training.real_eval.records import RealSummary
from training.real_eval.run import machine_line
from training.registry import sha256_file
from training.review_data import load_export

logger = logging.getLogger(__name__)


def _real(
    candidate: Path,
    against: Path,
    labels: tuple[str, str],
    data_root: Path,
    settings: EdgeSettings,
    clip_limit: int | None,
    command: str,
) -> tuple[RealSummary, RealSummary]:
    from edge.detectors import LabelMapConfig
    from training.real_eval.data import RealModel, find_real_data, teacher_model
    from training.real_eval.run import evaluate_real

    teacher = teacher_model(data_root)
    report = evaluate_real(
        [
            RealModel(labels[0], candidate, LabelMapConfig()),
            RealModel(labels[1], against, LabelMapConfig()),
        ],
        find_real_data(data_root),
        settings,
        teacher_path=teacher.path,
        clip_limit=clip_limit,
        command=command,
    )
    first, second = report.summaries
    return first, second


def run_gate(
    *,
    candidate: Path,
    against: Path,
    labels: tuple[str, str],
    export_dir: Path,
    split: str,
    settings: EdgeSettings,
    config: TrainConfig | None,
    real_data: Path | None,
    clip_limit: int | None = None,
    command: str = "civicwatch models gate",
    max_recall_drop: float = MAX_RECALL_DROP,
) -> GateReport:
    """Measure both models and decide.

    Args:
        candidate / against: The ONNX files (already verified where registered).
        labels: Their names in the report.
        export_dir: A ``civicwatch dataset export`` folder; ``split`` names its frozen split.
        settings: The edge settings (deployment confidence and NMS IoU, real-table rates).
        config: Training config whose held-out scenes are scored; ``None``: not scored
            (recorded as skipped).
        real_data: The shared data folder; ``None`` or absent: the real table is skipped
            with the reason.
        clip_limit: Real table: frames per clip at most.

    Raises:
        training.review_data.ExportDataError: The export is not usable.
        ValueError: A model's classes differ, or the split is empty.
    """
    from training.real_eval.data import RealDataError

    export = load_export(export_dir)
    if not export.images.get(split):
        raise ValueError(
            f"the export's {split} split is empty: nothing to gate on (export more reviewed "
            "cases, or give --split another split)"
        )
    reviewed = tuple(
        evaluate_reviewed(m, export, split=split, confidence=settings.confidence, iou=settings.iou)
        for m in (candidate, against)
    )
    skipped: list[str] = []
    holdout: tuple[HoldoutReport, HoldoutReport] | None = None
    if config is None:
        skipped.append("held-out rendered scenes: no training config given")
    else:
        holdout = (evaluate_holdout(config, candidate), evaluate_holdout(config, against))
    real: tuple[RealSummary, RealSummary] | None = None
    if real_data is None:
        skipped.append("real-image table: --no-real given")
    else:
        try:
            real = _real(candidate, against, labels, real_data, settings, clip_limit, command)
        except RealDataError as exc:
            skipped.append(f"real-image table: {exc}")
    for reason in skipped:
        logger.warning("gate: skipped %s", reason)
    decision = decide(
        reviewed=(reviewed[0], reviewed[1]),
        holdout=holdout,
        real=real,
        skipped=skipped,
        max_recall_drop=max_recall_drop,
    )

    def gated(i: int, path: Path) -> GatedModel:
        return GatedModel(
            label=labels[i],
            file=str(path),
            sha256=sha256_file(path),
            reviewed=reviewed[i],
            holdout=holdout[i] if holdout else None,
            real=real[i] if real else None,
        )

    return GateReport(
        created_at=datetime.now(UTC),
        command=command,
        machine=machine_line(),
        split=f"{export.root} ({split})",
        candidate=gated(0, candidate),
        against=gated(1, against),
        decision=decision,
    )
