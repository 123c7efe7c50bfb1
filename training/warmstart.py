"""Continue training from a deployed ONNX model: rebuild a trainable checkpoint from its weights.

The edges and the registry hold ONNX files only; the ``.pt`` checkpoints of a training run
live in a scratch folder that a data team may no longer have. An ultralytics ONNX export has
each convolution fused with its batch norm (``y = W'x + b'``), under the PyTorch parameter
names. :func:`checkpoint_from_onnx` builds the model from its yaml, copies the fused weights
in and *unfuses* every batch norm so that it computes the same function and still trains:

* the convolution keeps ``W'`` (it has no bias in the trainable layout);
* the batch norm gets the per-channel mean ``m`` and variance ``v`` of ``W'x`` measured on
  calibration images, weight ``sqrt(v + eps)`` and bias ``b' + m``; in evaluation mode
  ``(W'x - m) / sqrt(v + eps) * sqrt(v + eps) + b' + m = W'x + b'`` exactly, and in training
  mode the batch statistics are close to ``m`` and ``v``, so training starts where the
  deployed model stands instead of from scratch.

The rebuilt model is checked against the ONNX file itself (same outputs on the calibration
images) before it is saved.
"""

from __future__ import annotations

import ast
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

MAX_OUTPUT_DIFFERENCE = 1e-2
"""Largest absolute difference (class scores 0..1, box pixels) allowed between the rebuilt
model and the ONNX file on the calibration images."""


class WarmStartError(RuntimeError):
    """The ONNX file cannot be turned into a checkpoint of the model yaml."""


@dataclass(frozen=True, slots=True)
class _ConvWeights:
    weight: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32]


def _network_input(path: Path, size: int) -> npt.NDArray[np.float32]:
    """A calibration image as the exported model sees it (the edge's centred letterbox)."""
    from edge.detectors.transforms import letterbox

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise WarmStartError(f"calibration image {path} cannot be read")
    fitted = letterbox(np.asarray(image, dtype=np.uint8), (size, size))
    rgb = fitted.image[:, :, ::-1].transpose(2, 0, 1)
    return np.ascontiguousarray(rgb, dtype=np.float32) / 255.0


def _statistics(bn: Any) -> tuple[Any, Any]:
    """A batch norm's running mean and variance buffers (always there: track_running_stats)."""
    if bn.running_mean is None or bn.running_var is None:
        raise WarmStartError("batch norm without running statistics")
    return bn.running_mean, bn.running_var


def _dequantize(
    q: npt.NDArray[Any], scale: npt.NDArray[Any], zero_point: npt.NDArray[Any] | int, axis: int
) -> npt.NDArray[np.float32]:
    """``(q - zero_point) * scale``, per tensor or per channel along ``axis``."""
    shape = [1] * q.ndim
    if np.ndim(scale) == 1 and np.size(scale) > 1:
        shape[axis] = -1
    zp = np.asarray(zero_point, dtype=np.float64).reshape(shape if np.size(zero_point) > 1 else [])
    out = (q.astype(np.float64) - zp) * np.asarray(scale, dtype=np.float64).reshape(
        shape if np.size(scale) > 1 else []
    )
    return out.astype(np.float32)


def _strip_quantized(name: str) -> str:
    return name.removesuffix("_quantized")


class _Graph:
    """An ONNX graph's constants, producers and consumers, for tracing weights through it."""

    def __init__(self, proto: Any) -> None:
        from onnx import numpy_helper

        self.arrays: dict[str, npt.NDArray[Any]] = {
            i.name: numpy_helper.to_array(i) for i in proto.graph.initializer
        }
        for node in proto.graph.node:  # Constant nodes hold constants too
            if node.op_type == "Constant" and node.attribute[0].name == "value":
                self.arrays[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        self.producer: dict[str, Any] = {o: n for n in proto.graph.node for o in n.output}
        self.consumers: dict[str, list[Any]] = {}
        for node in proto.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def constant(self, name: str) -> tuple[str, npt.NDArray[np.float32]] | None:
        """The float value of ``name``: a float constant, or a DequantizeLinear of one
        (with its key: the quantised constant's name without ``_quantized``)."""
        if name in self.arrays:
            return name, self.arrays[name].astype(np.float32)
        node = self.producer.get(name)
        if node is None:
            return None
        if node.op_type in ("Reshape", "Identity") and node.input[0] in self.arrays:
            return node.input[0], self.arrays[node.input[0]].astype(np.float32)
        if node.op_type != "DequantizeLinear" or node.input[0] not in self.arrays:
            return None
        import onnx

        axis = next(
            (int(onnx.helper.get_attribute_value(a)) for a in node.attribute if a.name == "axis"),
            1,
        )
        zp = self.arrays[node.input[2]] if len(node.input) > 2 and node.input[2] else 0
        q = self.arrays[node.input[0]]
        return _strip_quantized(node.input[0]), _dequantize(
            q, self.arrays[node.input[1]], zp, axis % q.ndim
        )

    def only_consumer(self, name: str, op_type: str) -> Any:
        found = [n for n in self.consumers.get(name, []) if n.op_type == op_type]
        return found[0] if len(found) == 1 else None


def _conv_integer(graph: _Graph, node: Any, path: Path) -> tuple[str, _ConvWeights]:
    """The float weights of an onnxruntime dynamically quantised convolution.

    ``quantize_dynamic`` writes ``ConvInteger(x_q, w_q, x_zp, w_zp) -> Cast -> Mul(., x_scale *
    w_scale) -> Add(., bias)``: the weight is ``(w_q - w_zp) * w_scale``, the bias the Add's
    constant.
    """
    key = _strip_quantized(node.input[1])
    fail = WarmStartError(f"{path}: cannot trace the scale of quantised weight {key}")
    cast = graph.only_consumer(node.output[0], "Cast")
    mul = graph.only_consumer(cast.output[0], "Mul") if cast is not None else None
    if mul is None:
        raise fail
    scales = graph.producer.get(next(i for i in mul.input if i != cast.output[0]))
    if scales is None or scales.op_type != "Mul":
        raise fail
    w_scale = [graph.arrays[i] for i in scales.input if i in graph.arrays]
    if len(w_scale) != 1:
        raise fail
    q = graph.arrays[node.input[1]]
    zp = graph.arrays[node.input[3]] if len(node.input) > 3 and node.input[3] else 0
    weight = _dequantize(q, w_scale[0], zp, 0)
    bias = np.zeros(weight.shape[0], dtype=np.float32)
    add = graph.only_consumer(mul.output[0], "Add")
    if add is not None:
        other = next(i for i in add.input if i != mul.output[0])
        if (found := graph.constant(other)) is not None:
            bias = found[1].reshape(-1)
    return key, _ConvWeights(weight, bias)


def _onnx_convolutions(path: Path) -> tuple[dict[str, _ConvWeights], dict[str, str]]:
    """The convolutions of an ONNX file keyed by their weight's (PyTorch) name, and its metadata.

    Biases are found through the graph, not by name: the exporter's simplifier may fold or
    rename them (a bias of zeros, for one). Quantised files are read as the float model they
    approximate, ``w = (q - zero_point) * scale`` (per tensor or per output channel): QDQ
    graphs (``DequantizeLinear`` feeding a ``Conv``) and onnxruntime's dynamic quantisation
    (``ConvInteger``); a weight ``model.0.conv.weight_quantized`` is keyed ``model.0.conv.weight``.
    """
    import onnx

    proto = onnx.load(str(path))
    graph = _Graph(proto)
    convs: dict[str, _ConvWeights] = {}
    for node in proto.graph.node:
        if node.op_type == "ConvInteger" and node.input[1] in graph.arrays:
            key, found = _conv_integer(graph, node, path)
            convs[key] = found
            continue
        if node.op_type != "Conv" or len(node.input) < 2:
            continue
        if (weight := graph.constant(node.input[1])) is None:
            continue
        key, w = weight
        bias = np.zeros(w.shape[0], dtype=np.float32)
        if len(node.input) > 2 and node.input[2]:
            if (b := graph.constant(node.input[2])) is None:
                raise WarmStartError(f"{path}: bias of {key} is not a constant")
            bias = b[1].reshape(-1)
        convs[key] = _ConvWeights(w, bias)
    meta = {p.key: p.value for p in proto.metadata_props}
    return convs, meta


def _output_difference(
    ours: npt.NDArray[np.float32], theirs: npt.NDArray[np.float32], imgsz: int
) -> float:
    """Largest difference of two detection outputs ``(B, 4 + nc, anchors)``: boxes in image
    fractions, scores as they are."""
    scale = np.ones((1, theirs.shape[1], 1), dtype=np.float32)
    scale[:, :4] = 1.0 / imgsz
    return float(np.abs((ours - theirs) * scale).max())


def checkpoint_from_onnx(
    onnx_path: Path,
    model_yaml: Path,
    out: Path,
    calibration: list[Path],
    *,
    tolerance: float = MAX_OUTPUT_DIFFERENCE,
) -> Path:
    """Write an ultralytics checkpoint with the weights of ``onnx_path``.

    Args:
        onnx_path: An ultralytics ONNX export (metadata ``names`` and ``imgsz``).
        model_yaml: The model yaml it was trained from (same layout and width).
        out: Where to write the ``.pt`` checkpoint.
        calibration: Images to measure the batch-norm statistics on (a few dozen from the
            training set).
        tolerance: Largest output difference allowed (see :data:`MAX_OUTPUT_DIFFERENCE`); a
            quantised file differs from the float model it approximates by more
            (:data:`training.pretrained.INT8_OUTPUT_TOLERANCE`).

    Returns:
        ``out``.

    Raises:
        WarmStartError: If the file does not match the yaml, lacks metadata, or the rebuilt
            model does not reproduce its outputs.
    """
    import onnxruntime as ort
    import torch
    from torch import nn
    from ultralytics.nn.modules.conv import Conv
    from ultralytics.nn.tasks import DetectionModel

    if not calibration:
        raise WarmStartError("no calibration images given")
    convs, meta = _onnx_convolutions(onnx_path)
    try:
        names: dict[int, str] = ast.literal_eval(meta["names"])
        imgsz = int(ast.literal_eval(meta["imgsz"])[0])
    except (KeyError, ValueError, SyntaxError, TypeError, IndexError) as exc:
        raise WarmStartError(f"{onnx_path} lacks ultralytics metadata (names, imgsz)") from exc

    model = DetectionModel(  # type: ignore[no-untyped-call]
        cfg=str(model_yaml), nc=len(names), verbose=False
    )
    model.names = names
    used: set[str] = set()
    fused: list[tuple[Conv, npt.NDArray[np.float32]]] = []
    inner = {id(m.conv) for m in model.modules() if isinstance(m, Conv)}
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, Conv) and isinstance(module.bn, nn.BatchNorm2d):
                target, key = module.conv, f"{name}.conv.weight"
            elif isinstance(module, nn.Conv2d) and id(module) not in inner:
                target, key = module, f"{name}.weight"
            else:
                continue
            if not target.weight.requires_grad:
                used.add(key)  # a fixed layer (the DFL integral): keep it exact
                continue
            if key not in convs:
                raise WarmStartError(f"{onnx_path} has no weights for layer {name}")
            found = convs[key]
            if tuple(found.weight.shape) != tuple(target.weight.shape):
                raise WarmStartError(
                    f"layer {name}: ONNX weight {found.weight.shape} does not fit the yaml's "
                    f"{tuple(target.weight.shape)}"
                )
            target.weight.copy_(torch.from_numpy(found.weight))
            used.add(key)
            if isinstance(module, Conv):
                bn = module.bn
                mean, var = _statistics(bn)
                mean.zero_()
                var.fill_(1.0 - bn.eps)
                bn.weight.fill_(1.0)
                bn.bias.copy_(torch.from_numpy(found.bias))
                fused.append((module, found.bias))
            elif target.bias is not None:
                target.bias.copy_(torch.from_numpy(found.bias))
    unused = [k for k in convs if k not in used and k.startswith("model.")]
    if unused:
        raise WarmStartError(f"{onnx_path} has weights the yaml has no place for: {unused[:5]}")

    batch = np.stack([_network_input(p, imgsz) for p in calibration])
    x = torch.from_numpy(batch)
    model.eval()
    sums: dict[int, tuple[torch.Tensor, torch.Tensor, int]] = {}

    def hook(index: int) -> Any:
        def record(_m: nn.Module, _i: tuple[torch.Tensor, ...], y: torch.Tensor) -> None:
            flat = y.detach().double().transpose(0, 1).reshape(y.shape[1], -1)
            s, sq, n = sums.get(index, (torch.zeros(0), torch.zeros(0), 0))
            if n == 0:
                sums[index] = (flat.sum(1), (flat * flat).sum(1), flat.shape[1])
            else:
                sums[index] = (s + flat.sum(1), sq + (flat * flat).sum(1), n + flat.shape[1])

        return record

    handles = [m.conv.register_forward_hook(hook(i)) for i, (m, _) in enumerate(fused)]
    with torch.no_grad():
        for start in range(0, len(x), 8):
            model(x[start : start + 8])
    for h in handles:
        h.remove()
    with torch.no_grad():
        for i, (module, bias) in enumerate(fused):
            s, sq, n = sums[i]
            mean = s / n
            var = (sq / n - mean * mean).clamp_min(1e-6)
            bn = module.bn
            running_mean, running_var = _statistics(bn)
            running_mean.copy_(mean.float())
            running_var.copy_(var.float())
            bn.weight.copy_(torch.sqrt(var + bn.eps).float())
            bn.bias.copy_(torch.from_numpy(bias) + mean.float())

    with torch.no_grad():
        ours = model(x[:4])[0].numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    theirs = np.concatenate(
        [session.run(None, {input_name: x[i : i + 1].numpy()})[0] for i in range(4)]
    )
    difference = _output_difference(ours, theirs, imgsz)
    if difference > tolerance:
        raise WarmStartError(
            f"rebuilt model differs from {onnx_path} by {difference:.4f} (> {tolerance})"
        )
    logger.info("rebuilt %s from %s (max output difference %.2e)", out, onnx_path, difference)

    import ultralytics

    setattr(model, "args", {"imgsz": imgsz, "task": "detect"})  # noqa: B010 (untyped attribute)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "date": datetime.now(UTC).isoformat(),
            "version": ultralytics.__version__,
            "epoch": -1,
            "best_fitness": None,
            "model": model.float(),
            "ema": None,
            "updates": None,
            "optimizer": None,
            "train_args": {"imgsz": imgsz, "task": "detect", "model": str(model_yaml)},
            "train_metrics": None,
            "train_results": None,
            "source": str(onnx_path),
        },
        out,
    )
    return out


def save_checkpoint(
    model: Any, out: Path, *, base: dict[str, Any], imgsz: int, model_yaml: Path, source: str
) -> Path:
    """Save ``model`` as an ultralytics checkpoint: ``base`` with the model, its input size and
    yaml, today's date and the ultralytics version, and where it came from (``source``)."""
    import torch
    import ultralytics

    setattr(model, "args", {"imgsz": imgsz, "task": "detect"})  # noqa: B010 (untyped attribute)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            **base,
            "date": datetime.now(UTC).isoformat(),
            "version": ultralytics.__version__,
            "model": model.float(),
            "train_args": {"imgsz": imgsz, "task": "detect", "model": str(model_yaml)},
            "source": source,
        },
        out,
    )
    return out


def grow_checkpoint(source: Path, model_yaml: Path, out: Path, calibration: list[Path]) -> Path:
    """Carry a trained checkpoint into a model yaml that extends its layout with new layers.

    The new yaml must keep every layer of the old one before the Detect head, in the same
    places with the same inputs, and may add layers between them and the head; its Detect head
    must take the old head's inputs first (in the same order) and may add levels after them,
    such as the stride-4 branch of ``civicwatch-street-p2.yaml``. Every old weight is copied
    (the head's under its new index); the added layers keep their fresh initialisation, and
    an added level starts with ultralytics' prior class bias (scores near zero), so the grown
    model finds what the old one found and learns the new level from there.

    Args:
        source: The old checkpoint (for example from :func:`checkpoint_from_onnx`).
        model_yaml: The extended model yaml.
        out: Where to write the grown checkpoint.
        calibration: Images to check the grown model on (its old levels must give the old
            model's outputs).

    Returns:
        ``out``.

    Raises:
        WarmStartError: If the yaml does not extend the checkpoint's layout, or the grown
            model does not reproduce the old outputs.
    """
    import torch
    from ultralytics.nn.tasks import DetectionModel

    checkpoint = torch.load(source, map_location="cpu", weights_only=False)
    old = checkpoint["model"].float()
    names: dict[int, str] = dict(old.names)
    new = DetectionModel(  # type: ignore[no-untyped-call]
        cfg=str(model_yaml), nc=len(names), verbose=False
    )
    new.names = names
    old_layers: Any = old.model  # nn.Sequential of ultralytics modules with .type and .f
    new_layers: Any = new.model
    old_head, new_head = len(old_layers) - 1, len(new_layers) - 1
    for i in range(old_head):
        a, b = old_layers[i], new_layers[i]
        if (a.type, a.f) != (b.type, b.f):
            raise WarmStartError(
                f"{model_yaml} layer {i} is {b.type} from {b.f}, the checkpoint's is "
                f"{a.type} from {a.f}: the yaml does not extend {source}'s layout"
            )
    old_from = list(old_layers[old_head].f)
    new_from = list(new_layers[new_head].f)
    if new_from[: len(old_from)] != old_from:
        raise WarmStartError(
            f"{model_yaml}: the Detect head must take the old head's inputs {old_from} first, "
            f"not {new_from}"
        )
    target = new.state_dict()
    state: dict[str, Any] = {}
    for key, value in old.state_dict().items():
        _, index, rest = key.split(".", 2)
        moved = f"model.{new_head if int(index) == old_head else index}.{rest}"
        if moved not in target or tuple(target[moved].shape) != tuple(value.shape):
            raise WarmStartError(
                f"{model_yaml} has no place of shape {tuple(value.shape)} "
                f"for {key} (looked for {moved})"
            )
        state[moved] = value
    missing = new.load_state_dict(state, strict=False).missing_keys
    logger.info(
        "grew %s into %s: %d tensors kept, %d new", source, model_yaml, len(state), len(missing)
    )

    imgsz = int(checkpoint.get("train_args", {}).get("imgsz", 416))
    x = torch.from_numpy(np.stack([_network_input(p, imgsz) for p in calibration[:4]]))
    old.eval()
    new.eval()
    with torch.no_grad():
        theirs = old(x)[0]
        ours = new(x)[0]
    difference = _output_difference(ours[:, :, : theirs.shape[2]].numpy(), theirs.numpy(), imgsz)
    if difference > MAX_OUTPUT_DIFFERENCE:
        raise WarmStartError(f"grown model differs from {source} by {difference:.4f}")
    added = float(ours[:, 4:, theirs.shape[2] :].max()) if ours.shape[2] > theirs.shape[2] else 0.0
    logger.info(
        "grown model: old levels differ by %.2e, new level's top score %.3f", difference, added
    )
    return save_checkpoint(
        new,
        out,
        base=checkpoint,
        imgsz=imgsz,
        model_yaml=model_yaml,
        source=f"{checkpoint.get('source', source)} grown into {model_yaml}",
    )
