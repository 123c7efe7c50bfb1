"""Offline ultralytics training and ONNX export.

ultralytics is imported inside the functions, after :func:`training.offline.configure_offline`
has prepared the environment, so importing this module touches neither torch nor the network.
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from training.config import DatasetConfig, TrainConfig
from training.offline import apply_settings, configure_offline
from training.scenes.classes import CLASSES
from training.scenes.dataset import GENERATOR_VERSION, write_dataset, write_repeat_list

if TYPE_CHECKING:
    from collections.abc import Iterator

logger = logging.getLogger(__name__)


class TrainingError(RuntimeError):
    """Training or export did not produce what it should."""


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What a training run produced.

    Attributes:
        run_dir: The ultralytics run folder.
        best: Path of the best checkpoint (``weights/best.pt``).
        wall_s: Wall-clock seconds of the training call.
        map50: Validation mAP at IoU 0.5 of the best checkpoint.
        map50_95: Validation mAP at IoU 0.5:0.95 of the best checkpoint.
    """

    run_dir: Path
    best: Path
    wall_s: float
    map50: float
    map50_95: float


def prepare_offline(config: TrainConfig) -> None:
    """Configure ultralytics for offline use as ``config`` says (call before training)."""
    configure_offline(config.config_dir, config.font)
    apply_settings(config.runs_dir, config.dataset.root.parent)


def ensure_dataset(data: DatasetConfig) -> Path:
    """Render the dataset unless a complete one with the same size is already there.

    Returns:
        Path of its ``data.yaml``, or of ``data-repeat.yaml`` when ``data.repeat`` asks to
        oversample classes (see :func:`write_repeat_list`).
    """
    data_yaml = _ensure_rendered(data)
    return write_repeat_list(data.root, data.repeat) if data.repeat else data_yaml


def _ensure_rendered(data: DatasetConfig) -> Path:
    data_yaml = data.root / "data.yaml"
    if data_yaml.is_file():
        listed = yaml.safe_load(data_yaml.read_text())
        names = listed.get("names") if isinstance(listed, dict) else None
        n = sum(1 for _ in (data.root / "images").rglob("*.jpg"))
        version = listed.get("generator") if isinstance(listed, dict) else None
        if (
            isinstance(names, dict)
            and tuple(names.values()) == CLASSES
            and n == data.count
            and version == GENERATOR_VERSION
        ):
            logger.info("using existing dataset %s (%d images)", data.root, n)
            return data_yaml
        logger.info(
            "dataset %s is stale (%d images, names %s, generator %s): re-rendering",
            data.root,
            n,
            names,
            version,
        )
        shutil.rmtree(data.root)
    summary = write_dataset(
        data.root,
        count=data.count,
        seed=data.seed,
        imgsz=data.imgsz,
        val_fraction=data.val_fraction,
        workers=data.workers,
    )
    return summary.data_yaml


@contextmanager
def _threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _keep_threads(model: Any, n: int) -> None:
    """Train with ``n`` torch threads although ultralytics resets them.

    ultralytics' ``select_device`` (called when the trainer is built) sets torch to
    ``cpu_count - 1`` threads for CPU training: one thread on a 2-core machine, which made
    training there 1.7x slower than with both cores. The first callback runs after that, when
    the training routine starts; the second logs what the first epoch actually runs with.
    """
    import torch

    def restore(_trainer: object) -> None:
        torch.set_num_threads(n)

    def report(trainer: Any) -> None:
        if trainer.epoch == trainer.start_epoch:
            logger.info("training with %d torch threads", torch.get_num_threads())

    model.add_callback("on_pretrain_routine_start", restore)
    model.add_callback("on_train_epoch_start", report)


def _log_progress(model: Any) -> None:
    """Log one line per finished epoch: losses and validation mAP (``on_fit_epoch_end``)."""

    def report(trainer: Any) -> None:
        metrics = getattr(trainer, "metrics", None) or {}
        tloss = getattr(trainer, "tloss", None)
        losses = trainer.label_loss_items(tloss, prefix="train") if tloss is not None else {}
        logger.info(
            "epoch %d/%d done: box loss %.3f, val mAP50 %.3f, mAP50-95 %.3f",
            trainer.epoch + 1,
            trainer.epochs,
            float(losses.get("train/box_loss", float("nan"))),
            float(metrics.get("metrics/mAP50(B)", float("nan"))),
            float(metrics.get("metrics/mAP50-95(B)", float("nan"))),
        )

    model.add_callback("on_fit_epoch_end", report)


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    epochs: int | None = None,
    init: Path | None = None,
    lr0: float | None = None,
    name: str | None = None,
    data: Path | None = None,
    rendered_ratio: float = 3.0,
    export_repeat: int = 1,
    imgsz: int | None = None,
    fraction: float = 1.0,
) -> TrainResult:
    """Train the detector from its model yaml (or a checkpoint) on the rendered dataset.

    Args:
        config: The training configuration (paths absolute, see :func:`load_config`).
        resume: Continue the run's interrupted ``weights/last.pt``.
        epochs: Override ``config.train.epochs``.
        init: Start from this checkpoint's weights instead of the model yaml (continued
            training; no warm-up).
        lr0: Override ``config.train.lr0``.
        name: Override the run name ``config.name``.
        data: A ``civicwatch dataset export`` folder: its training frames are mixed with
            the rendered scenes (:func:`training.review_data.mix_with_export`).
        rendered_ratio: With ``data``: rendered scenes per export frame in the training list.
        export_repeat: With ``data``: how often each export training frame is listed.
        imgsz: Override ``config.train.imgsz`` (a short CPU run at a smaller size).
        fraction: Train on this fraction of the training list (ultralytics ``fraction``).

    Returns:
        The run's best checkpoint and its validation metrics.

    Raises:
        TrainingError: If ultralytics produced no checkpoint.
    """
    prepare_offline(config)
    data_yaml = ensure_dataset(config.dataset)
    if config.real_backgrounds is not None:
        from training.config import shared_data_root
        from training.real_data import mixed_dataset

        data_yaml = mixed_dataset(config.real_backgrounds, shared_data_root(), data_yaml)
    run_name = name if name is not None else config.name
    if data is not None:
        from training.review_data import load_export, mix_with_export

        data_yaml = mix_with_export(
            load_export(data),
            data_yaml,
            config.runs_dir / f"{run_name}-data",
            rendered_ratio=rendered_ratio,
            export_repeat=export_repeat,
            seed=config.train.seed,
            pseudo_model=init if init is not None and init.suffix == ".onnx" else None,
        )
    from ultralytics import YOLO  # type: ignore[attr-defined]

    opt = config.train
    random.seed(opt.seed)
    np.random.seed(opt.seed)
    run_dir = config.runs_dir / run_name
    start = time.monotonic()
    with _threads(opt.threads):
        if resume:
            last = run_dir / "weights" / "last.pt"
            if not last.is_file():
                raise TrainingError(f"cannot resume: {last} does not exist")
            model = YOLO(str(last))
            _keep_threads(model, opt.threads)
            model.train(resume=True)
        else:
            if init is not None and not init.is_file():
                raise TrainingError(f"checkpoint {init} to start from does not exist")
            if init is not None and init.suffix == ".onnx":
                init = _checkpoint_from_onnx(config, init, data_yaml, run_dir)
            elif init is None and config.pretrained_from is not None:
                init = _pretrained_start(config, data_yaml, run_dir)
            model = YOLO(str(init if init is not None else config.model), task="detect")
            _keep_threads(model, opt.threads)
            _log_progress(model)
            model.train(
                data=str(data_yaml),
                epochs=epochs if epochs is not None else opt.epochs,
                imgsz=imgsz if imgsz is not None else opt.imgsz,
                fraction=fraction,
                batch=opt.batch,
                workers=opt.workers,
                seed=opt.seed,
                deterministic=True,
                device=opt.device,
                optimizer=opt.optimizer,
                lr0=lr0 if lr0 is not None else opt.lr0,
                warmup_epochs=0.0 if init is not None else 3.0,
                patience=opt.patience,
                close_mosaic=opt.close_mosaic,
                mosaic=opt.mosaic,
                scale=opt.scale,
                fliplr=opt.fliplr,
                cls_pw=opt.cls_pw,
                cache=False if opt.cache == "none" else opt.cache,
                plots=opt.plots,
                amp=False,
                pretrained=init is not None,
                project=str(config.runs_dir),
                name=run_name,
                exist_ok=True,
                verbose=True,
            )
    wall = time.monotonic() - start
    best = run_dir / "weights" / "best.pt"
    if not best.is_file():
        raise TrainingError(f"training finished without {best}")
    map50, map50_95 = _last_metrics(run_dir)
    logger.info("trained %s in %.0f s: mAP50 %.3f mAP50-95 %.3f", best, wall, map50, map50_95)
    return TrainResult(run_dir, best, wall, map50, map50_95)


CALIBRATION_IMAGES = 64
"""Training images the batch-norm statistics are measured on when starting from ONNX."""


def _checkpoint_from_onnx(config: TrainConfig, onnx: Path, data_yaml: Path, run_dir: Path) -> Path:
    from training.warmstart import WarmStartError, checkpoint_from_onnx, grow_checkpoint

    images = sorted((data_yaml.parent / "images" / "train").glob("*.jpg"))[:CALIBRATION_IMAGES]
    out = run_dir / "weights" / f"init-{onnx.stem}.pt"
    try:
        if config.grown_from is None:
            return checkpoint_from_onnx(onnx, config.model, out, images)
        rebuilt = checkpoint_from_onnx(onnx, config.grown_from, out, images)
        grown = run_dir / "weights" / f"init-{onnx.stem}-{config.model.stem}.pt"
        return grow_checkpoint(rebuilt, config.model, grown, images)
    except WarmStartError as exc:
        raise TrainingError(f"cannot start from {onnx}: {exc}") from exc


def _pretrained_start(config: TrainConfig, data_yaml: Path, run_dir: Path) -> Path:
    from training.pretrained import pretrained_start
    from training.warmstart import WarmStartError

    try:
        return pretrained_start(config, data_yaml, run_dir)
    except WarmStartError as exc:
        raise TrainingError(f"cannot start from {config.pretrained_from}: {exc}") from exc


def _last_metrics(run_dir: Path) -> tuple[float, float]:
    results = run_dir / "results.csv"
    if not results.is_file():
        return (float("nan"), float("nan"))
    lines = [ln.split(",") for ln in results.read_text().splitlines() if ln.strip()]
    header = [h.strip() for h in lines[0]]
    rows = [[c.strip() for c in ln] for ln in lines[1:]]
    i50 = header.index("metrics/mAP50(B)")
    i95 = header.index("metrics/mAP50-95(B)")
    best = max(rows, key=lambda r: 0.1 * float(r[i50]) + 0.9 * float(r[i95]))
    return (float(best[i50]), float(best[i95]))


def export_onnx(
    config: TrainConfig,
    weights: Path,
    out: Path,
    *,
    imgsz: int | None = None,
) -> Path:
    """Export a checkpoint to ONNX (with ``names``, ``imgsz`` and ``stride`` metadata).

    ultralytics writes the file next to the (absolute) checkpoint path; it is then copied to
    ``out``.

    Args:
        config: The training configuration (for the offline setup and export options).
        weights: The ``.pt`` checkpoint.
        out: Destination ``.onnx`` path.
        imgsz: Input size; defaults to ``config.train.imgsz``.

    Returns:
        ``out``.

    Raises:
        TrainingError: If the export produced no file or its metadata is missing.
    """
    prepare_offline(config)
    from ultralytics import YOLO  # type: ignore[attr-defined]

    size = imgsz if imgsz is not None else config.train.imgsz
    weights = weights.resolve()
    model = YOLO(str(weights), task="detect")
    produced = model.export(
        format="onnx",
        imgsz=size,
        simplify=config.export.simplify,
        opset=config.export.opset,
        dynamic=False,
        device="cpu",
    )
    src = Path(str(produced)).resolve()
    if not src.is_file():
        raise TrainingError(f"export of {weights} produced no ONNX file (got {produced!r})")
    meta = read_onnx_metadata(src)
    for key in ("names", "imgsz", "stride"):
        if key not in meta:
            raise TrainingError(f"exported {src} lacks metadata {key!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if src.resolve() != out.resolve():
        shutil.copyfile(src, out)
    from training.batch_axis import BatchAxisError, make_batch_dynamic

    try:  # edges batch several cameras' frames into one inference call
        make_batch_dynamic(out, out)
    except BatchAxisError as exc:
        logger.warning("%s keeps its static batch of 1 (no batched inference): %s", out, exc)
    logger.info("exported %s (%d bytes)", out, out.stat().st_size)
    return out


def read_onnx_metadata(path: Path) -> dict[str, str]:
    """The custom metadata of an ONNX model file as strings (``names``, ``imgsz``, ...)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta: dict[str, str] = dict(session.get_modelmeta().custom_metadata_map)
    return meta
