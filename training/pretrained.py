"""A pretrained start: the COCO-pretrained YOLOv8n, dequantised and re-headed for the project.

The shared data holds ``weights/yolov8n_int8.onnx``, ultralytics' YOLOv8n trained on COCO with
its weights quantised to 8 bits by onnxruntime. :func:`coco_checkpoint` reads it as the float
model it approximates (``w = (q - zero_point) * scale``, :mod:`training.warmstart`) into an
ultralytics checkpoint of ``training/arch/civicwatch-street-n.yaml`` with 80 classes, and checks
that the float model gives the int8 file's outputs on real images within
:data:`INT8_SCORE_TOLERANCE` / :data:`INT8_BOX_TOLERANCE`. :func:`compare_detections` runs two
exports through the edge's own ``yolo`` plugin and matches their detections.
:func:`rehead` then keeps the backbone, neck and box branch and gives the Detect head one class
row per project class, starting the mapped rows (person, car, truck) from the COCO rows.

Licence: the YOLOv8n weights and architecture are ultralytics', AGPL-3.0 (the shared data's
``weights/LICENSE.ultralytics-AGPL-3.0.txt``); a model trained from them says so in its card.
"""

from __future__ import annotations

import ast
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from training.config import TrainConfig
from training.scenes.classes import CLASSES
from training.warmstart import WarmStartError, checkpoint_from_onnx, save_checkpoint

logger = logging.getLogger(__name__)

INT8_SCORE_TOLERANCE = 0.35
"""Largest class-score difference allowed between the dequantised float model and the int8
file on any anchor. Measured on the 7 shared photos (bus, street, construction dust 01-05) at
640 px: at most 0.30 (one anchor of bus.jpg; typically 0.02-0.15, mean below 1e-4); the int8
file also quantises every activation on the fly, the float model does not."""

INT8_BOX_TOLERANCE = 0.02
"""Largest box difference (image fractions) allowed at anchors where either model scores at
least 0.25. Measured on the same photos: at most 0.0099."""

SCORED = 0.25
"""Score at which an anchor's box is compared, and detections are kept by the plugin check."""


@dataclass(frozen=True, slots=True)
class OutputAgreement:
    """How closely a rebuilt float model reproduces the raw outputs of a (quantised) file.

    Attributes:
        images: Images compared.
        max_score_difference: Largest class-score difference over every anchor.
        max_box_difference: Largest box difference (image fractions) at scored anchors.
    """

    images: int
    max_score_difference: float
    max_box_difference: float


@dataclass(frozen=True, slots=True)
class DetectionAgreement:
    """How the detections of two models on the same images match (edge ``yolo`` plugin).

    Attributes:
        images: Images compared.
        reference: Detections of the reference model.
        candidate: Detections of the candidate model.
        matched: Reference detections with a same-class candidate box at IoU >= 0.5.
        min_iou: Lowest IoU among the matched pairs (1.0 when none).
        max_score_difference: Largest score difference among the matched pairs.
    """

    images: int
    reference: int
    candidate: int
    matched: int
    min_iou: float
    max_score_difference: float

    @property
    def matched_fraction(self) -> float:
        """Share of reference detections matched (1.0 when there are none)."""
        return self.matched / self.reference if self.reference else 1.0


def _names_and_size(onnx_path: Path) -> tuple[dict[int, str], int]:
    import onnx

    meta = {
        p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props
    }
    try:
        names: dict[int, str] = ast.literal_eval(meta["names"])
        imgsz = int(ast.literal_eval(meta["imgsz"])[0])
    except (KeyError, ValueError, SyntaxError, TypeError, IndexError) as exc:
        raise WarmStartError(f"{onnx_path} lacks ultralytics metadata (names, imgsz)") from exc
    return names, imgsz


def measure_outputs(checkpoint: Path, onnx_path: Path, images: Sequence[Path]) -> OutputAgreement:
    """Compare a checkpoint's raw outputs with an ONNX file's on ``images`` (centred letterbox).

    Raises:
        WarmStartError: If no image is given or one cannot be read.
    """
    import onnxruntime as ort
    import torch

    from training.warmstart import _network_input

    if not images:
        raise WarmStartError("no images to compare the rebuilt model on")
    _, imgsz = _names_and_size(onnx_path)
    model = torch.load(checkpoint, map_location="cpu", weights_only=False)["model"].float().eval()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    score, box = 0.0, 0.0
    for path in images:
        x = _network_input(path, imgsz)[None]
        with torch.no_grad():
            ours = model(torch.from_numpy(x))[0].numpy()[0]
        theirs = np.asarray(session.run(None, {name: x})[0])[0]
        score = max(score, float(np.abs(ours[4:] - theirs[4:]).max()))
        scored = np.maximum(ours[4:].max(0), theirs[4:].max(0)) >= SCORED
        if scored.any():
            diff = np.abs(ours[:4, scored] - theirs[:4, scored]).max() / imgsz
            box = max(box, float(diff))
    return OutputAgreement(len(images), score, box)


def coco_checkpoint(
    onnx_path: Path, model_yaml: Path, out: Path, calibration: Sequence[Path]
) -> tuple[Path, OutputAgreement]:
    """Rebuild the pretrained model of ``onnx_path`` (float or int8) as an ultralytics checkpoint.

    Args:
        onnx_path: An ultralytics YOLOv8 export with its own class names (80 for COCO).
        model_yaml: A model yaml of the same layout and width (the class count is the file's).
        out: Where to write the checkpoint.
        calibration: Images for the batch-norm statistics and the output check (real photos
            or training images).

    Returns:
        ``out`` and how closely it reproduces the file's outputs.

    Raises:
        WarmStartError: If the file does not fit the yaml, or the rebuilt model is further from
            its outputs than :data:`INT8_SCORE_TOLERANCE` / :data:`INT8_BOX_TOLERANCE`.
    """
    # The raw check of checkpoint_from_onnx compares boxes on every anchor, where a quantised
    # file's unscored boxes wander; the check that counts is measure_outputs below.
    checkpoint_from_onnx(onnx_path, model_yaml, out, list(calibration), tolerance=math.inf)
    agreement = measure_outputs(out, onnx_path, calibration[:8])
    if (
        agreement.max_score_difference > INT8_SCORE_TOLERANCE
        or agreement.max_box_difference > INT8_BOX_TOLERANCE
    ):
        raise WarmStartError(
            f"dequantised {onnx_path} differs from the file by {agreement.max_score_difference:.3f}"
            f" in scores, {agreement.max_box_difference:.4f} in boxes (allowed "
            f"{INT8_SCORE_TOLERANCE}, {INT8_BOX_TOLERANCE})"
        )
    logger.info("dequantised %s into %s: %s", onnx_path, out, agreement)
    return out, agreement


def _iou(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """IoU of every box of ``a`` with every box of ``b`` (xyxy)."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.asarray(inter / np.maximum(union, 1e-9), dtype=np.float64)


def compare_detections(
    reference: Path, candidate: Path, images: Sequence[Path], *, confidence: float = SCORED
) -> DetectionAgreement:
    """Run two ultralytics exports through the edge's ``yolo`` plugin and match detections.

    A reference detection is matched by the best-overlapping unmatched candidate detection of
    the same class name at IoU >= 0.5.

    Raises:
        WarmStartError: If an image cannot be read.
    """
    import cv2

    from edge.detectors import create_detector, parse_detector_config

    def detector(path: Path) -> Any:
        config = {"type": "yolo", "path": str(path), "confidence": confidence}
        return create_detector(parse_detector_config(config))

    ref, cand = detector(reference), detector(candidate)
    n_ref = n_cand = matched = 0
    min_iou, score_diff = 1.0, 0.0
    for path in images:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise WarmStartError(f"image {path} cannot be read")
        a, b = ref.detect(image), cand.detect(image)
        n_ref, n_cand = n_ref + len(a), n_cand + len(b)
        if not len(a) or not len(b):
            continue
        iou = _iou(a.xyxy, b.xyxy)
        same = np.array(a.class_name)[:, None] == np.array(b.class_name)[None, :]
        iou = np.where(same, iou, 0.0)
        taken: set[int] = set()
        for i in np.argsort(-a.confidence):
            order = [j for j in np.argsort(-iou[i]) if j not in taken and iou[i, j] >= 0.5]
            if order:
                j = int(order[0])
                taken.add(j)
                matched += 1
                min_iou = min(min_iou, float(iou[i, j]))
                score_diff = max(score_diff, abs(float(a.confidence[i] - b.confidence[j])))
    return DetectionAgreement(len(images), n_ref, n_cand, matched, min_iou, score_diff)


def _top(importance: Any, k: int) -> Any:
    """Indices of the ``k`` largest values, in channel order."""
    import torch

    return torch.sort(torch.topk(importance, k).indices).values


def _ridge(a: Any, b: Any, lam: float = 1e-3) -> Any:
    """``x`` minimising ``|a x - b|^2 + lam * trace(a'a)/n * |x|^2`` (float64)."""
    import torch

    a, b = a.double(), b.double()
    gram = a.T @ a
    reg = lam * torch.trace(gram) / gram.shape[0]
    return torch.linalg.solve(gram + reg * torch.eye(gram.shape[0], dtype=a.dtype), a.T @ b)


MAX_SAMPLES = 20_000
"""Feature-map positions the narrowed class branch is fitted on, per level."""


def _class_branch(
    branch: Any, fresh: dict[str, Any], prefix: str, rows: dict[int, int], x: Any
) -> dict[str, Any]:
    """The tensors of one class branch (``cv3.i``: Conv, Conv, 1x1 Conv2d) for the new head.

    ultralytics sizes the branch ``max(channels, min(nc, 100))`` wide: 80 channels for COCO,
    64 for 7 classes at YOLOv8n width. The channels kept are those the mapped rows draw on
    most (``|w| * bn scale``); the middle convolution is refitted (ridge least squares on the
    calibration features ``x``) to give the kept channels' old pre-activations from the kept
    inputs, and each mapped row of the last layer to give its old logit. Unmapped rows start
    at zero weight with the fresh prior bias (scores near 0.01), not at random weights on
    pretrained features (which score up to 0.99).
    """
    import torch
    from torch.nn import functional

    conv0, conv1, last = branch[0], branch[1], branch[2]
    c1 = fresh[f"{prefix}2.weight"].shape[1]
    c0 = fresh[f"{prefix}1.conv.weight"].shape[1]
    w2 = last.weight.detach()
    used = list(rows.values()) or list(range(w2.shape[0]))
    keep1 = _top(w2[used, :, 0, 0].abs().sum(0) * conv1.bn.weight.detach().abs(), c1)
    w1 = conv1.conv.weight.detach()
    keep0 = _top(w1[keep1].abs().sum((0, 2, 3)) * conv0.bn.weight.detach().abs(), c0)
    with torch.no_grad():
        a0 = conv0(x)
        z1 = conv1.conv(a0)
        logits = last(conv1.act(conv1.bn(z1)))
        k = w1.shape[2]
        cols = functional.unfold(a0[:, keep0], k, padding=k // 2)  # (N, c0*k*k, H*W)
        cols = cols.transpose(1, 2).reshape(-1, cols.shape[1])
        target = z1[:, keep1].permute(0, 2, 3, 1).reshape(-1, c1)
        pick = torch.randperm(cols.shape[0], generator=torch.Generator().manual_seed(0))
        pick = pick[:MAX_SAMPLES]
        w1_new = _ridge(cols[pick], target[pick]).T.reshape(c1, c0, k, k).float()
        bn = conv1.bn
        z1_new = functional.conv2d(a0[:, keep0], w1_new, padding=k // 2)
        a1 = conv1.act(
            functional.batch_norm(
                z1_new,
                bn.running_mean[keep1],
                bn.running_var[keep1],
                bn.weight[keep1],
                bn.bias[keep1],
                False,
                0.0,
                bn.eps,
            )
        )
        feats = a1.permute(0, 2, 3, 1).reshape(-1, c1)
        feats = torch.cat([feats, torch.ones(feats.shape[0], 1)], 1)[pick]
    out: dict[str, Any] = {}
    for layer, module, keep in (("0", conv0, keep0), ("1", conv1, keep1)):
        for key, value in module.state_dict().items():
            out[f"{prefix}{layer}.{key}"] = value if value.ndim == 0 else value[keep].clone()
    out[f"{prefix}1.conv.weight"] = w1_new
    weight = torch.zeros_like(fresh[f"{prefix}2.weight"])
    bias = fresh[f"{prefix}2.bias"].clone()
    if rows:
        fit = _ridge(feats, logits.permute(0, 2, 3, 1).reshape(-1, w2.shape[0])[pick][:, used])
        for j, row in enumerate(rows):
            weight[row, :, 0, 0] = fit[:-1, j].float()
            bias[row] = fit[-1, j].float()
    out[f"{prefix}2.weight"], out[f"{prefix}2.bias"] = weight, bias
    return out


def _head_inputs(model: Any, images: Sequence[Path], imgsz: int) -> list[Any]:
    """The Detect head's input feature maps on ``images`` (one tensor per level)."""
    import torch

    from training.warmstart import _network_input

    captured: list[list[Any]] = []
    head = model.model[-1]

    def hook(_m: Any, inputs: tuple[Any, ...]) -> None:
        captured.append([t.detach().clone() for t in inputs[0]])

    handle = head.register_forward_pre_hook(hook)
    x = torch.from_numpy(np.stack([_network_input(p, imgsz) for p in images]))
    with torch.no_grad():
        model.eval()(x)
    handle.remove()
    return captured[0]


def rehead(
    source: Path,
    model_yaml: Path,
    out: Path,
    class_map: Mapping[str, str],
    calibration: Sequence[Path],
) -> Path:
    """Give a pretrained checkpoint the project's classes, keeping backbone, neck and box branch.

    Every tensor of ``source`` outside the Detect head's class branches (``cv3.*``) is copied
    into the model of ``model_yaml`` (built with :data:`CLASSES`) unchanged. In each class
    branch the channels the mapped classes draw on most are kept (:func:`_class_branch`), the
    row of each project class listed in ``class_map`` is the source row of the class it maps
    to, and the other rows keep the fresh initialisation (ultralytics' prior class bias).

    Args:
        source: A checkpoint of the same layout and width (e.g. from :func:`coco_checkpoint`).
        model_yaml: The project model yaml.
        out: Where to write the re-headed checkpoint.
        class_map: Project class -> source class name (e.g. ``{"truck": "truck"}``).
        calibration: Images the narrowed class branch is fitted on (a few dozen).

    Returns:
        ``out``.

    Raises:
        WarmStartError: If a name is unknown, no calibration image is given, or a tensor does
            not fit the yaml.
    """
    import torch
    from ultralytics.nn.tasks import DetectionModel

    checkpoint = torch.load(source, map_location="cpu", weights_only=False)
    old_model = checkpoint["model"].float()
    old_names = {str(v): int(k) for k, v in dict(old_model.names).items()}
    rows: dict[int, int] = {}
    for name, source_name in class_map.items():
        if name not in CLASSES:
            raise WarmStartError(f"unknown class {name!r}; known: {', '.join(CLASSES)}")
        if source_name not in old_names:
            raise WarmStartError(
                f"{source} has no class {source_name!r} (for {name}); it has e.g. "
                f"{', '.join(list(old_names)[:8])}"
            )
        rows[CLASSES.index(name)] = old_names[source_name]
    new = DetectionModel(  # type: ignore[no-untyped-call]
        cfg=str(model_yaml), nc=len(CLASSES), verbose=False
    )
    new.names = dict(enumerate(CLASSES))
    fresh = new.state_dict()
    old = old_model.state_dict()
    layers: Any = new.model  # nn.Sequential of ultralytics modules
    head = len(layers) - 1
    branch = f"model.{head}.cv3."
    state: dict[str, Any] = {}
    if not calibration:
        raise WarmStartError("no calibration images to fit the class branches on")
    imgsz = int(checkpoint.get("train_args", {}).get("imgsz", 640))
    features = _head_inputs(old_model, calibration, imgsz)
    for level, x in enumerate(features):
        module = old_model.model[-1].cv3[level]
        state.update(_class_branch(module, fresh, f"{branch}{level}.", rows, x))
    for key, value in old.items():
        if key.startswith(branch):
            continue
        if key not in fresh or tuple(fresh[key].shape) != tuple(value.shape):
            raise WarmStartError(
                f"{model_yaml} has no place of shape {tuple(value.shape)} for {key} "
                "(not the layout and width of the pretrained model)"
            )
        state[key] = value
    result = new.load_state_dict(state, strict=False)
    if result.missing_keys:
        raise WarmStartError(
            f"{source} lacks {len(result.missing_keys)} tensors of {model_yaml}: "
            f"{result.missing_keys[:3]}"
        )
    logger.info("re-headed %s into %s: class rows %s", source, out, rows)
    return save_checkpoint(
        new,
        out,
        base=checkpoint,
        imgsz=imgsz,
        model_yaml=model_yaml,
        source=f"{checkpoint.get('source', source)} re-headed {dict(class_map)}",
    )


CALIBRATION_IMAGES = 32
"""Training images the pretrained model's batch-norm statistics are measured on."""


def pretrained_start(config: TrainConfig, data_yaml: Path, run_dir: Path) -> Path:
    """The initial checkpoint ``config.pretrained_from`` asks for (written under ``run_dir``).

    Raises:
        WarmStartError: If the pretrained file is missing or cannot be rebuilt.
    """
    spec = config.pretrained_from
    if spec is None:
        raise WarmStartError("the training config has no pretrained_from")
    if not spec.onnx.is_file():
        raise WarmStartError(
            f"pretrained model {spec.onnx} not found (shared data: set CIVICWATCH_SHARED_DATA)"
        )
    images = sorted((data_yaml.parent / "images" / "train").rglob("*.jpg"))[:CALIBRATION_IMAGES]
    weights = run_dir / "weights"
    coco, agreement = coco_checkpoint(
        spec.onnx, config.model, weights / f"pretrained-{spec.onnx.stem}.pt", images
    )
    logger.info("pretrained start from %s (%s)", spec.onnx, agreement)
    out = weights / f"init-{spec.onnx.stem}-7cls.pt"
    return rehead(coco, config.model, out, spec.map, images)
