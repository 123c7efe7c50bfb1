"""Train the cover classifier on scene-generator crops, export it to ONNX, write its card.

``python -m training.cover --out models`` renders a training and a validation set
(:func:`training.cover.data.render_cover_set`, different base seeds), trains
:class:`~training.cover.model.CoverNet` with light augmentation (flips, brightness,
contrast, noise), keeps the epoch with the best validation accuracy, exports it with a
softmax to ``cover-v1.onnx`` (opset 17, dynamic batch) with the metadata
:class:`edge.rules.cover.OnnxCoverClassifier` checks, verifies the export with onnxruntime
against torch, and writes the model card and a registry entry beside it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
import yaml
from torch import nn

from edge.rules.cover import COVER_LABELS, LOAD_REGION_SPEC, OnnxCoverClassifier
from training.cover.data import IMGSZ_HW, CoverSet, render_cover_set
from training.cover.model import CoverExport, CoverNet

logger = logging.getLogger(__name__)

MODEL_NAME = "civicwatch-cover"
MODEL_VERSION = "1"


@dataclass(frozen=True, slots=True)
class TrainReport:
    """What a training run produced.

    Attributes:
        onnx: The exported model.
        card: Its model card.
        registry: The registry file the entry was written to.
        train_crops: Training crops (covered, uncovered).
        val_crops: Validation crops (covered, uncovered).
        val_accuracy: Accuracy of the exported model on the validation crops.
        val_confusion: ``[[covered->covered, covered->uncovered], [uncovered->covered,
            uncovered->uncovered]]`` on the validation crops.
        epochs: Epochs run; ``best_epoch`` is the one kept.
        best_epoch: The kept epoch (1-based).
        seconds: Wall time of the whole run.
    """

    onnx: Path
    card: Path
    registry: Path
    train_crops: tuple[int, int]
    val_crops: tuple[int, int]
    val_accuracy: float
    val_confusion: list[list[int]]
    epochs: int
    best_epoch: int
    seconds: float


def counts(crops: CoverSet) -> tuple[int, int]:
    """``(covered, uncovered)`` crops of a set."""
    return int((crops.labels == 0).sum()), int((crops.labels == 1).sum())


def _tensor(images: npt.NDArray[np.uint8]) -> torch.Tensor:
    """BGR uint8 ``(N, H, W, 3)`` to RGB float ``(N, 3, H, W)`` in 0..1 (as the edge)."""
    return torch.from_numpy(images[..., ::-1].copy()).permute(0, 3, 1, 2).float() / 255.0


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    gain = 0.7 + 0.6 * torch.rand(n, 1, 1, 1, generator=gen)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = 0.7 + 0.6 * torch.rand(n, 1, 1, 1, generator=gen)
    x = (x - mean) * contrast + mean
    x = x * gain + 0.03 * torch.randn(x.shape, generator=gen)
    return x.clamp(0.0, 1.0)


def _evaluate(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> npt.NDArray[np.int64]:
    net.eval()
    confusion = np.zeros((2, 2), dtype=np.int64)
    with torch.no_grad():
        for k in range(0, len(labels), 512):
            pred = net(images[k : k + 512]).argmax(dim=1)
            for t, p in zip(labels[k : k + 512].tolist(), pred.tolist(), strict=True):
                confusion[t, p] += 1
    return confusion


def train(
    train_set: CoverSet,
    val_set: CoverSet,
    *,
    epochs: int = 24,
    batch: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
) -> tuple[CoverNet, npt.NDArray[np.int64], int]:
    """Train a :class:`CoverNet`; return it (best validation epoch), its confusion, that epoch."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_train, y_train = _tensor(train_set.images), torch.from_numpy(train_set.labels)
    x_val, y_val = _tensor(val_set.images), torch.from_numpy(val_set.labels)
    net = CoverNet()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(y_train) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    best: tuple[float, int, dict[str, torch.Tensor]] = (-1.0, 0, {})
    best_confusion = np.zeros((2, 2), dtype=np.int64)
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(y_train), generator=gen)
        total = 0.0
        for k in range(0, len(order), batch):
            idx = order[k : k + batch]
            loss = loss_fn(net(_augment(x_train[idx], gen)), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        confusion = _evaluate(net, x_val, y_val)
        accuracy = float(np.trace(confusion)) / max(int(confusion.sum()), 1)
        logger.info(
            "epoch %d/%d: loss %.4f, val accuracy %.4f", epoch, epochs, total / len(order), accuracy
        )
        if accuracy > best[0]:
            state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            best = (accuracy, epoch, state)
            best_confusion = confusion
    net.load_state_dict(best[2])
    net.eval()
    return net, best_confusion, best[1]


def export_onnx(net: CoverNet, path: Path, metadata: dict[str, str]) -> None:
    """Export ``net`` with a softmax to ``path`` (opset 17, dynamic batch) with metadata."""
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = IMGSZ_HW
    model = CoverExport(net).eval()
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, h, w),),
        str(path),
        input_names=["images"],
        output_names=["probs"],
        dynamic_axes={"images": {0: "batch"}, "probs": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for key, value in sorted(metadata.items()):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def run(
    out_dir: Path,
    *,
    train_scenes: int = 1600,
    val_scenes: int = 400,
    train_seed: int = 4101,
    val_seed: int = 4102,
    epochs: int = 24,
    threads: int = 2,
) -> TrainReport:
    """Render, train, export and verify the cover classifier into ``out_dir``.

    Args:
        out_dir: Where ``cover-v1.onnx``, its card and ``cover-registry.yaml`` go.
        train_scenes: Scenes rendered for training.
        val_scenes: Scenes rendered for validation (another base seed).
        train_seed: Base seed of the training scenes.
        val_seed: Base seed of the validation scenes.
        epochs: Training epochs.
        threads: Torch threads.

    Returns:
        What was produced, with the validation accuracy of the exported file.
    """
    started = time.monotonic()
    torch.set_num_threads(threads)
    train_set = render_cover_set(train_scenes, train_seed)
    val_set = render_cover_set(val_scenes, val_seed)
    logger.info("cover crops: %d train, %d val", len(train_set), len(val_set))
    net, _, best_epoch = train(train_set, val_set, epochs=epochs)
    onnx_path = out_dir / "cover-v1.onnx"
    metadata = {
        "civicwatch_task": "truck_cover",
        "name": MODEL_NAME,
        "version": MODEL_VERSION,
        "names": json.dumps(list(COVER_LABELS)),
        "imgsz": json.dumps(list(IMGSZ_HW)),
        "load_region": LOAD_REGION_SPEC,
        "input": "RGB float32 0..1 NCHW",
        "trained_on": f"training.cover scenes seed {train_seed} x {train_scenes}",
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    export_onnx(net, onnx_path, metadata)
    # The exported file, through the edge's own loader, on the validation crops.
    classifier = OnnxCoverClassifier(onnx_path)
    probs = np.concatenate(
        [
            classifier.p_uncovered(list(val_set.images[k : k + 256]))
            for k in range(0, len(val_set), 256)
        ]
    )
    pred = (probs >= 0.5).astype(np.int64)
    confusion = np.zeros((2, 2), dtype=np.int64)
    for t, p in zip(val_set.labels.tolist(), pred.tolist(), strict=True):
        confusion[t, p] += 1
    accuracy = float(np.trace(confusion)) / max(int(confusion.sum()), 1)
    with torch.no_grad():
        torch_probs = torch.softmax(net(_tensor(val_set.images[:64])), dim=1)[:, 1].numpy()
    gap = float(np.abs(torch_probs - probs[:64]).max()) if len(probs) else 0.0
    if gap > 1e-3:
        raise RuntimeError(f"ONNX and torch disagree by {gap:.2e} on validation crops")
    card = _write_card(
        out_dir,
        onnx_path,
        counts(train_set),
        counts(val_set),
        accuracy,
        confusion,
        best_epoch,
        epochs,
        train_scenes,
        val_scenes,
        train_seed,
        val_seed,
    )
    registry = _write_registry(out_dir, onnx_path, card)
    report = TrainReport(
        onnx=onnx_path,
        card=card,
        registry=registry,
        train_crops=counts(train_set),
        val_crops=counts(val_set),
        val_accuracy=accuracy,
        val_confusion=confusion.tolist(),
        epochs=epochs,
        best_epoch=best_epoch,
        seconds=time.monotonic() - started,
    )
    logger.info("cover classifier: %s", report)
    return report


def _write_card(
    out_dir: Path,
    onnx_path: Path,
    train_counts: tuple[int, int],
    val_counts: tuple[int, int],
    accuracy: float,
    confusion: npt.NDArray[np.int64],
    best_epoch: int,
    epochs: int,
    train_scenes: int,
    val_scenes: int,
    train_seed: int,
    val_seed: int,
) -> Path:
    data = onnx_path.read_bytes()
    card = out_dir / "cover-v1.md"
    (c_c, c_u), (u_c, u_u) = confusion.tolist()
    card.write_text(
        f"""# civicwatch-cover v1: covered / uncovered muck-truck loads

- **File**: `{onnx_path.name}` ({len(data):,} bytes), sha256 `{hashlib.sha256(data).hexdigest()}`
- **Task**: second-stage classifier of the muck-truck rule (`edge/rules/trucks.py`): is the
  load of a detected truck covered (tarpaulin) or open? Output `probs` = softmax over
  `["covered", "uncovered"]`.
- **Input**: `images`, float32 RGB in 0..1, NCHW, {IMGSZ_HW[0]} x {IMGSZ_HW[1]} (height x
  width): the truck box's **load region** (`{LOAD_REGION_SPEC}`: the top 60 % of the box,
  padded 4 %; `edge.rules.cover.load_region`) resized with `INTER_AREA`. The ONNX metadata carries
  `civicwatch_task`, `names`, `imgsz` and `load_region`; the edge refuses a file whose crop
  definition differs from its own.
- **Architecture**: `training/cover/model.py`, five 3x3 conv blocks (batch norm, ReLU),
  global average pooling, dropout, linear; about 80 k parameters; trained from scratch
  (no pretrained weights, nothing downloaded).
- **Data**: synthetic only, from the project's scene generator (`training/scenes`):
  `training/cover/data.py` renders street scenes with one to three trucks (half covered),
  cars and people as occluders, day / dusk / night / infrared, rain, blur, noise; two
  jittered load-region crops per truck showing at least 60 % of itself, half of them
  re-encoded as JPEG (quality 35..95).
  Training: {train_scenes} scenes, base seed {train_seed}: {train_counts[0]} covered,
  {train_counts[1]} uncovered crops. Validation: {val_scenes} other scenes, base seed
  {val_seed}: {val_counts[0]} covered, {val_counts[1]} uncovered crops.
- **Training**: AdamW, one-cycle learning rate 3e-3, label smoothing 0.05, batch 64,
  {epochs} epochs on CPU; flips, brightness / contrast jitter and noise; the epoch with the
  best validation accuracy (epoch {best_epoch}) is kept.
- **Validation (the exported file through `OnnxCoverClassifier`, threshold 0.5)**:
  accuracy {accuracy:.4f}; covered -> covered {c_c}, covered -> uncovered {c_u},
  uncovered -> covered {u_c}, uncovered -> uncovered {u_u}.
- **Use**: one vote per analysed frame; the rule decides on a consensus (3 of 5 by default),
  which absorbs single-frame mistakes.
- **Limits**: trained on rendered trucks only (flat-shaded boxes with a tarpaulin ridge or a
  textured soil heap). Real trucks, real tarpaulins (mesh nets, partly open covers),
  unusual colours and crops that cut the load off are outside what it has seen; judge it on
  reviewed real cases before trusting it, and retrain with them. It says nothing about
  what is loaded, only whether the top is covered.
- **Reproduce**: `python -m training.cover --out models` (about 10 minutes on 2 CPU cores).
""",
        encoding="utf-8",
    )
    return card


def _write_registry(out_dir: Path, onnx_path: Path, card: Path) -> Path:
    data = onnx_path.read_bytes()
    entry = {
        "name": MODEL_NAME,
        "version": MODEL_VERSION,
        "file": onnx_path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "task": "classify",
        "format": "onnx",
        "classes": list(COVER_LABELS),
        "imgsz": list(IMGSZ_HW),
        "card": card.name,
        "description": "Covered / uncovered muck-truck loads (second stage of muck_truck).",
    }
    path = out_dir / "cover-registry.yaml"
    header = (
        "# Registry entry of the cover classifier, in the layout of models/registry.yaml.\n"
        "# Kept apart until registry.yaml accepts task 'classify' and a [height, width] imgsz.\n"
    )
    path.write_text(
        header + yaml.safe_dump({"version": 1, "models": [entry]}, sort_keys=False),
        encoding="utf-8",
    )
    return path
