"""From a trained checkpoint to a deployable model: export, evaluate, register, write the card.

``civicwatch publish`` (see :mod:`training.cli`) runs :func:`publish`:

1. export the checkpoint to ONNX at ``export.output`` (metadata ``names``, ``imgsz``, ``stride``);
2. evaluate it on the held-out synthetic split (and, optionally, an int8 copy);
3. run it over the real footage in the shared data folder, if present;
4. run it, the current default and the COCO teacher through the real-image evaluation
   (:mod:`training.real_eval`), if the shared data is present;
5. with ``make_default``, pass the real-image gate (:mod:`training.real_eval.gate`): a model
   worse than the current default on the real table is refused (``force_default`` overrides,
   and the card says so);
6. list it in ``models/registry.yaml`` with its SHA-256 (as the default if it passed);
7. write the model card beside it, generated from those measurements.
"""

from __future__ import annotations

import logging
import platform
import shutil
from datetime import UTC, datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from training.config import REPO_ROOT, TrainConfig
from training.evaluate import (
    HoldoutReport,
    RealFileResult,
    evaluate_holdout,
    load_footage_truth,
    real_data_report,
    real_data_table,
)
from training.gate.report import GateReport
from training.real_eval.gate import DefaultGate, DefaultRefusedError, decide_default
from training.real_eval.run import RealEvalReport
from training.real_eval.table import render_real_table
from training.registry import DEFAULT_REGISTRY, entry_for, sha256_file, upsert_entry
from training.scenes.classes import CLASSES
from training.scenes.dataset import GENERATOR_VERSION
from training.scenes.render import MIN_BOX_FRACTION, MIN_CONTRAST, MIN_VISIBLE_FRACTION
from training.train import export_onnx

logger = logging.getLogger(__name__)

TRAIN_COMMAND = "civicwatch train --config configs/train.yaml --export"
"""How the committed model is trained (``python -m training.cli train ...`` is the same)."""


class RunSummary(BaseModel):
    """What the ultralytics run folder says about the training."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(ge=0, description="Epochs completed.")
    wall_s: float = Field(ge=0.0, description="Training wall time from results.csv.")
    best_epoch: int = Field(ge=0, description="Epoch of the best checkpoint (by fitness).")
    val_map50: float = Field(ge=0.0, le=1.0, description="Validation mAP50 of that epoch.")
    val_map50_95: float = Field(ge=0.0, le=1.0, description="Validation mAP50-95 of that epoch.")


class StageSummary(BaseModel):
    """One training stage: the command that ran it and its run folder's summary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str = Field(min_length=1, description="The exact command line of the stage.")
    run_dir: str = Field(description="Its ultralytics run folder.")
    summary: RunSummary = Field(description="Epochs, wall time and best metrics.")


class PublishReport(BaseModel):
    """Everything :func:`publish` measured and wrote."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Published ONNX file.")
    sha256: str = Field(description="Its SHA-256.")
    size_bytes: int = Field(gt=0, description="Its size.")
    checkpoint: str = Field(description="File name of the exported checkpoint of the last stage.")
    stages: list[StageSummary] = Field(min_length=1, description="Training stages, in order.")
    notes: list[str] = Field(description="Provenance notes for the card.")
    holdout: HoldoutReport = Field(description="Held-out synthetic metrics of the fp32 model.")
    int8: HoldoutReport | None = Field(description="Held-out metrics of the int8 copy, if made.")
    int8_size_bytes: int | None = Field(description="Size of the int8 copy.")
    real: list[RealFileResult] = Field(description="Detections on real footage (empty if absent).")
    real_images: RealEvalReport | None = Field(
        default=None, description="The real table (candidate, default, teacher); None: no data."
    )
    default_gate: DefaultGate | None = Field(
        default=None, description="The real-image gate's decision, when asked to be the default."
    )
    card: str = Field(description="Model card path.")
    registry: str = Field(description="Registry file path.")
    gate: GateReport | None = Field(
        default=None, description="The models-gate report recorded with it (--gate-report)."
    )


def summarize_run(run_dir: Path) -> RunSummary:
    """Read epochs, wall time and the best epoch's metrics from ``results.csv``."""
    lines = [ln for ln in (run_dir / "results.csv").read_text().splitlines() if ln.strip()]
    header = [h.strip() for h in lines[0].split(",")]
    rows = [[float(c) for c in ln.split(",")] for ln in lines[1:]]
    col = {name: i for i, name in enumerate(header)}
    i50, i95 = col["metrics/mAP50(B)"], col["metrics/mAP50-95(B)"]
    best = max(rows, key=lambda r: 0.1 * r[i50] + 0.9 * r[i95])
    return RunSummary(
        epochs=len(rows),
        wall_s=rows[-1][col["time"]],
        best_epoch=int(best[col["epoch"]]),
        val_map50=best[i50],
        val_map50_95=best[i95],
    )


def publish(
    config: TrainConfig,
    weights: Path,
    *,
    name: str = "civicwatch-street",
    version: str = "1",
    registry_path: Path = DEFAULT_REGISTRY,
    real_data: Path | None = None,
    int8: bool = True,
    commands: list[str] | None = None,
    earlier_runs: list[Path] | None = None,
    notes: list[str] | None = None,
    make_default: bool = False,
    force_default: bool = False,
    gate_report: Path | None = None,
) -> PublishReport:
    """Export, evaluate, register and document a trained checkpoint.

    Args:
        config: Training configuration (export target, held-out split).
        weights: The checkpoint (``best.pt`` of the run).
        name: Registry name of the model.
        version: Registry version.
        registry_path: The registry file to update.
        real_data: Shared data folder to run the model over; ``None`` or missing: skipped.
        int8: Also make and evaluate an int8 copy (kept in the run folder, not registered).
        commands: The exact command of each training stage (earlier runs first, then the run
            of ``weights``); default: :data:`TRAIN_COMMAND` for a single stage.
        earlier_runs: Run folders of earlier stages that ``weights``' run continued from.
        notes: Provenance notes to print in the card.
        make_default: Make it the registry's default, if the real-image gate passes.
        force_default: Make it the default even if the gate finds it worse (recorded).
        gate_report: A ``civicwatch models gate`` report (JSON) on this model: the very ONNX
            file it judged is published (ONNX export is not byte-reproducible, so it is not
            exported again; ``weights`` still gives the training record), and the report is
            copied beside it, recorded in the card and in the registry entry (``gate``); a
            failed gate refuses ``make_default``.

    Raises:
        ValueError: If the number of commands differs from the number of stages.
        DefaultRefusedError: ``make_default`` and the model is worse than the current default
            on the real table (or the table cannot be measured) without ``force_default``;
            nothing is registered.

    Returns:
        The measurements; the card and registry are written.
    """
    run_dirs = [*(earlier_runs or []), weights.resolve().parent.parent]
    stage_commands = commands if commands is not None else [TRAIN_COMMAND]
    if len(stage_commands) != len(run_dirs):
        raise ValueError(
            f"{len(stage_commands)} commands given for {len(run_dirs)} training stages "
            f"({', '.join(str(d) for d in run_dirs)})"
        )
    stages = [
        StageSummary(command=c, run_dir=str(d), summary=summarize_run(d))
        for c, d in zip(stage_commands, run_dirs, strict=True)
    ]
    if gate_report is not None:
        # ONNX export is not byte-reproducible: publish the very file the gate judged
        out = _gated_file(gate_report, config.export.output)
    else:
        out = export_onnx(config, weights, config.export.output)
    gate_result, gate_file = _gate_record(gate_report, out, make_default=make_default)
    holdout = evaluate_holdout(config, out)
    logger.info("held-out mAP50 %.3f mAP50-95 %.3f", holdout.map50, holdout.map50_95)
    real_images = (
        real_table(out, f"{name}-v{version}", registry_path, real_data)
        if real_data is not None and real_data.is_dir()
        else None
    )
    gate = default_gate(real_images, force=force_default, data=real_data) if make_default else None
    int8_report: HoldoutReport | None = None
    int8_size: int | None = None
    if int8:
        from training.quantize import quantize_int8

        calib = sorted((config.dataset.root / "images" / "train").glob("*.jpg"))[:64]
        q = quantize_int8(out, weights.parent / f"{out.stem}-int8.onnx", calib, config.train.imgsz)
        int8_report = evaluate_holdout(config, q)
        int8_size = q.stat().st_size
    real: list[RealFileResult] = []
    if real_data is not None and real_data.is_dir():
        real = real_data_report(out, real_data)
    card = out.with_suffix(".md")
    entry = entry_for(
        out,
        registry_path,
        name=name,
        version=version,
        classes=list(CLASSES),
        imgsz=config.train.imgsz,
        card=card,
        description="Street scenes: people, cars, muck trucks, stalls, goods, soil, nets "
        + (
            "(rendered scenes and reviewed cases)"
            if gate_result is not None
            else "(trained on rendered scenes only)"
        ),
        gate=gate_file,
    )
    report = PublishReport(
        model=str(out),
        sha256=sha256_file(out),
        size_bytes=out.stat().st_size,
        checkpoint=weights.name,
        stages=stages,
        notes=notes or [],
        holdout=holdout,
        int8=int8_report,
        int8_size_bytes=int8_size,
        real=real,
        real_images=real_images,
        default_gate=gate,
        card=str(card),
        registry=str(registry_path),
        gate=gate_result,
    )
    card.write_text(render_card(report, config, name=name, version=version))
    upsert_entry(registry_path, entry, make_default=gate is not None)
    logger.info("published %s@%s: %s", name, version, out)
    return report


class GateMismatchError(ValueError):
    """The gate report is about another file, or failed while the model is to be the default."""


def _gated_file(report_path: Path, out: Path) -> Path:
    """Copy the ONNX file a gate report judged to ``out`` (its sha256 checked)."""
    report = GateReport.model_validate_json(report_path.read_text())
    source = Path(report.candidate.file)
    if not source.is_file() or sha256_file(source) != report.candidate.sha256:
        raise GateMismatchError(
            f"{report_path}: the judged file {source} is gone or changed (sha256 "
            f"{report.candidate.sha256[:12]}): gate the file to publish again"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    if source.resolve() != out.resolve():
        shutil.copyfile(source, out)
    return out


def _gate_record(
    report_path: Path | None, model: Path, *, make_default: bool
) -> tuple[GateReport | None, Path | None]:
    """Check a gate report against the exported ``model`` and copy it beside the model."""
    if report_path is None:
        return None, None
    report = GateReport.model_validate_json(report_path.read_text())
    sha = sha256_file(model)
    if report.candidate.sha256 != sha:
        raise GateMismatchError(
            f"{report_path} judged {report.candidate.file} (sha256 "
            f"{report.candidate.sha256[:12]}), not {model} (sha256 {sha[:12]}): gate the "
            "exported file"
        )
    if make_default and not report.passed:
        raise GateMismatchError(f"{report_path}: {report.verdict_line()}; not made the default")
    copy = model.with_name(f"{model.stem}-gate.json")
    copy.write_text(report.model_dump_json(indent=2) + "\n")
    model.with_name(f"{model.stem}-gate.md").write_text(report.markdown())
    return report, copy


def real_table(model: Path, label: str, registry_path: Path, data: Path) -> RealEvalReport:
    """The real table of ``model`` (first row), the registry's current default and the teacher.

    Raises:
        training.real_eval.data.RealDataError: The shared data lacks what the table needs.
    """
    from edge.detectors import LabelMapConfig
    from training.real_eval.data import (
        RealModel,
        edge_settings,
        find_real_data,
        registry_models,
        teacher_model,
    )
    from training.real_eval.run import evaluate_real
    from training.registry import load_registry

    registry = load_registry(registry_path)
    current = []
    if registry.default:
        entry = registry.default_entry()
        current = registry_models(registry, [f"{entry.name}@{entry.version}"])
    candidate = RealModel(f"{label} (candidate)", model, LabelMapConfig())
    teacher = teacher_model(data)
    others = [m for m in current if m.path.resolve() != model.resolve()]
    return evaluate_real(
        [candidate, *others, teacher],
        find_real_data(data),
        edge_settings(),
        teacher_path=teacher.path,
        command=f"civicwatch publish (real table of {label})",
    )


def default_gate(
    table: RealEvalReport | None, *, force: bool, data: Path | None = None
) -> DefaultGate:
    """The real-image gate on a :func:`real_table` (candidate first, current default second).

    Raises:
        DefaultRefusedError: The candidate is worse, or no table could be measured, and
            ``force`` is not set.
    """
    if table is None:
        if not force:
            raise DefaultRefusedError(
                f"no real table (shared data not found at {data}): the real-image gate cannot "
                "run; pass --real-data, or --force-default (recorded in the card)"
            )
        return DefaultGate(
            candidate="candidate",
            default=None,
            reasons=["the real table was not measured (shared data absent)"],
            forced=True,
        )
    rows = [s for s, m in zip(table.summaries, table.models, strict=True) if not m.teacher]
    return decide_default(rows[0], rows[1] if len(rows) > 1 else None, force=force)


def _repo_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def architecture_line(config: TrainConfig) -> str:
    """What the card says of the network: its yaml, scale, output levels and origin."""
    raw = yaml.safe_load(config.model.read_text())
    width = float(raw["width_multiple"])
    levels = len(raw["head"][-1][0])
    scale = " (narrower than YOLOv8n)" if width < 0.25 else ""
    text = (
        f"`{_repo_path(config.model)}`: YOLOv8 layout, depth {raw['depth_multiple']}, "
        f"width {width:g}{scale}, {levels} output levels"
        f"{' (strides 8, 16, 32 and 4)' if levels == 4 else ' (strides 8, 16, 32)'}"
    )
    if config.grown_from is not None:
        text += (
            f"; grown from a model of `{_repo_path(config.grown_from)}` with all its weights "
            "kept (training.warmstart.grow_checkpoint)"
        )
    return text + "; trained from scratch on the project's own data (no pretrained weights)"


def render_card(report: PublishReport, config: TrainConfig, *, name: str, version: str) -> str:
    """The model card (Markdown) of a published model."""
    d, t, h = config.dataset, config.train, config.holdout
    stage_lines = []
    for k, stage in enumerate(report.stages, start=1):
        s = stage.summary
        stage_lines.append(
            f"{k}. `{stage.command}`: {s.epochs} epochs, {s.wall_s / 60:.1f} min; best epoch "
            f"{s.best_epoch}: validation mAP50 {s.val_map50:.3f}, mAP50-95 {s.val_map50_95:.3f}"
        )
    total_min = sum(stage.summary.wall_s for stage in report.stages) / 60
    stages_text = "\n".join(stage_lines)
    notes_text = "\n".join(f"* {n}" for n in report.notes) or "* none"
    int8_line = "not made"
    if report.int8 is not None and report.int8_size_bytes is not None:
        int8_line = (
            f"static QDQ int8 (onnxruntime, per-channel, MinMax on 64 training images): "
            f"{report.int8_size_bytes / 1e6:.1f} MB, held-out mAP50 {report.int8.map50:.3f} "
            f"(fp32 {report.holdout.map50:.3f}), mAP50-95 {report.int8.map50_95:.3f} "
            f"(fp32 {report.holdout.map50_95:.3f}); not registered, kept in the run folder"
        )
    real = (
        real_data_table(report.real, load_footage_truth())
        if report.real
        else "(shared data folder absent when the card was generated)"
    )
    real_images = (
        render_real_table(report.real_images, details=False)
        if report.real_images is not None
        else "(shared data folder absent when the card was generated)"
    )
    gate_line = (
        report.default_gate.card_line()
        if report.default_gate is not None
        else "Not made the default by this publish."
    )
    classes = ", ".join(f"{i} `{c}`" for i, c in enumerate(CLASSES))
    task = (
        f"object detection, ultralytics ONNX export: input `images` 1x3x{t.imgsz}x{t.imgsz} "
        f"RGB 0..1 letterboxed (grey 114), output 1x{4 + len(CLASSES)}xN (cx, cy, w, h, "
        "class scores); metadata `names`, `imgsz`, `stride`"
    )
    arch = architecture_line(config)
    return f"""# {name} v{version}

Generated by `civicwatch publish` on {datetime.now(UTC).date().isoformat()} ({platform.machine()},
{platform.python_version()}); do not edit by hand, re-run the command instead.

| | |
|---|---|
| file | `models/{Path(report.model).name}` ({report.size_bytes / 1e6:.2f} MB, fp32 ONNX) |
| sha256 | `{report.sha256}` |
| task | {task} |
| classes | {classes} |
| architecture | {arch} |
| registry | `models/registry.yaml`, name `{name}`, version `{version}` |

## Data

Only rendered scenes (`training/scenes`, numpy + OpenCV): pole-mounted camera views of a street
with shopfronts and doors, a road, a fenced construction site; day / dusk / night / infrared
night, sun shadows, rain streaks, sensor noise, blur, JPEG artefacts, caption overlays.
`stall` covers umbrella-and-table, tricycle-cart and tarpaulin stalls; `goods` covers racks,
cartons and crates in front of shop doors; `truck` covers muck trucks with covered and open
loads (the cover flag is in the dataset's `meta/*.jsonl`); `bare_soil` and `dust_net` are
ground regions and heaps in the site.

* training (last stage): {d.count} images of generator version {GENERATOR_VERSION}, base seed
  {d.seed}, {d.imgsz} px wide,
  {d.val_fraction:.0%} of them for validation
* held-out test: {h.count} images of generator version {GENERATOR_VERSION}, base seed {h.seed}
  (never used in training)

## Training

{stages_text}

At {t.imgsz} px, batch {t.batch}, {t.optimizer}, seed {t.seed}, device `{t.device}`, fully
offline (`training.offline`); {total_min:.1f} min of training wall time in all, on the machine
above (2 shared CPU cores). The published file is the last stage's `{report.checkpoint}`,
exported with `civicwatch publish` (which also evaluated, registered and wrote this card).

Provenance notes:

{notes_text}

## Held-out synthetic evaluation (`civicwatch evaluate`)

{report.holdout.table()}

int8: {int8_line}.

## Real footage (`../shared/data`)

No box labels exist: what the model reports at score >= 0.25, held against what each file
shows by eye (`training/real_footage.yaml`).

{real}

## Real images (`civicwatch evaluate --real`)

{real_images}

Default: {gate_line}

## Gate against the model it replaces (`civicwatch models gate`)

{report.gate.markdown() if report.gate is not None else "(no gate report given to publish)"}

## Known limits

* It has never seen a real photograph. Rendered scenes are flat-shaded polygons; on real
  footage the model misses most objects and fires on some wrong ones (table above). Treat it
  as a pipeline and demo model, not as evidence for enforcement, until it is fine-tuned on
  reviewed real cases.
* Objects narrower or shorter than {MIN_BOX_FRACTION:.1%} of the image width, less than
  {MIN_VISIBLE_FRACTION:.0%} visible, or standing out from their surroundings by less than
  {MIN_CONTRAST:.0f} grey levels (unlit at night, grey in infrared) were not labelled (generator
  version {GENERATOR_VERSION}) and are rarely found; distant people in particular.
* `truck` does not say whether the load is covered: the edge asks the separate crop classifier
  (`models/cover-v1.onnx`, its own card) about each truck.
* `bare_soil` / `dust_net` boxes are the bounding boxes of irregular regions: box IoU is a poor
  measure for them, and region extent depends on the camera angle.
* Night and infrared scenes are simple darkened renders; real night footage is harder.
"""
