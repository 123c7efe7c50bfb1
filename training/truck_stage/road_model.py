"""The road profile's detector: the COCO-pretrained YOLOv8n, re-exported for checkpoint views.

The project's street models find a truck on almost none of the real checkpoint photos; the
COCO-pretrained YOLOv8n (the shared data's ``weights/yolov8n_int8.onnx``) finds heavy trucks
seen from the front and above, but calls many of them ``bus``, and its int8 file scores them
low. :func:`build_road_model` makes the road cameras' model from it:

1. dequantise the int8 file into the float model it approximates
   (:func:`training.pretrained.coco_checkpoint`, checked against the file's outputs);
2. export it at :data:`ROAD_IMGSZ` (a checkpoint camera's truck fills most of the frame: at
   416 px the network sees it at the scale COCO trucks have; 640 and 960 score the same trucks
   lower, see ``docs/truck-stage.md``), with a dynamic batch axis;
3. :func:`reduce_head`: keep the box rows and one score row per road object, a group of COCO
   classes scoring as their best member (``truck`` = max of COCO truck, bus, train), and name
   the classes with the project's object names in the metadata. The file then needs no label
   map on the edge (its class names are object names) and carries no class a road camera does
   not use.

The result is the operator's file (AGPL-3.0, like its source): never committed; it is listed
by sha256 in the operator's registry and named in ``scheduling.road_detector``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.config import REPO_ROOT, TrainConfig, load_config

logger = logging.getLogger(__name__)

ROAD_GROUPS: dict[str, tuple[str, ...]] = {
    "person": ("person",),
    "car": ("car",),
    "truck": ("truck", "bus", "train"),
}
"""Road objects and the COCO classes each stands for (a heavy truck head-on is often 'bus')."""

ROAD_IMGSZ = 416
"""Network input size of the road model, pixels (square letterbox)."""

ROAD_MODEL_NAME = "civicwatch-road-coco"
"""Model name written into the metadata (events record it)."""

ROAD_MODEL_VERSION = "1"
"""Model version written into the metadata."""

MODEL_YAML = REPO_ROOT / "training" / "arch" / "civicwatch-street-n.yaml"
"""The YOLOv8n layout the int8 file is rebuilt into."""

LICENCE = "AGPL-3.0 (ultralytics YOLOv8n COCO weights)"
"""The licence of the source weights, written into the metadata."""


class RoadModelError(ValueError):
    """The source model does not have the classes or the output layout the road model needs."""


def _names(meta: Mapping[str, str], path: Path) -> list[str]:
    from edge.detectors.plugins.yolo import parse_ultralytics_metadata

    return list(parse_ultralytics_metadata(meta, path).names)


def reduce_head(
    src: Path, out: Path, groups: Mapping[str, Sequence[str]], extra_meta: Mapping[str, str]
) -> Path:
    """Rewrite an ultralytics detector so that its output scores only ``groups``.

    The output ``(B, 4 + nc, N)`` becomes ``(B, 4 + len(groups), N)``: the four box rows,
    then per group the element-wise maximum of its classes' score rows. ``names`` in the
    metadata becomes the group names; ``extra_meta`` is added (model name, source, licence).

    Raises:
        RoadModelError: A group names a class the model does not have, or the model's output
            is not one ``(B, 4 + nc, N)`` tensor.
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(src))
    meta = {p.key: p.value for p in model.metadata_props}
    names = _names(meta, src)
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted({c for members in groups.values() for c in members} - set(index))
    if unknown:
        raise RoadModelError(f"{src} has no class {unknown} (classes: {names[:20]}...)")
    graph = model.graph
    if len(graph.output) != 1:
        raise RoadModelError(f"{src} has {len(graph.output)} outputs; expected one (B, 4+nc, N)")
    old = graph.output[0]
    dims = old.type.tensor_type.shape.dim
    if len(dims) != 3 or dims[1].dim_value != 4 + len(names):
        raise RoadModelError(f"{src}: output {old.name} is not (B, {4 + len(names)}, N)")
    source = old.name + "_all_classes"
    for node in graph.node:
        node.output[:] = [source if o == old.name else o for o in node.output]
    nodes: list[Any] = []
    inits: list[Any] = []

    def gather(rows: list[int], name: str) -> str:
        inits.append(helper.make_tensor(f"{name}_rows", TensorProto.INT64, [len(rows)], rows))
        nodes.append(helper.make_node("Gather", [source, f"{name}_rows"], [name], axis=1))
        return name

    parts = [gather([0, 1, 2, 3], "road_boxes")]
    for g, members in enumerate(groups.values()):
        rows = [gather([4 + index[c]], f"road_g{g}_{k}") for k, c in enumerate(members)]
        if len(rows) == 1:
            parts.append(rows[0])
        else:
            nodes.append(helper.make_node("Max", rows, [f"road_g{g}"]))
            parts.append(f"road_g{g}")
    nodes.append(helper.make_node("Concat", parts, [old.name], axis=1))
    graph.node.extend(nodes)
    graph.initializer.extend(inits)
    new_dims: list[int | str | None] = [
        d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims
    ]
    new_dims[1] = 4 + len(groups)
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(old.name, TensorProto.FLOAT, new_dims))
    meta["names"] = repr(dict(enumerate(groups)))
    meta.update(extra_meta)
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    _check_reduced(src, out, [[index[c] for c in members] for members in groups.values()])
    return out


def _check_reduced(src: Path, out: Path, rows: list[list[int]]) -> None:
    """The reduced file must give exactly the rows (and group maxima) of the source."""
    import onnxruntime as ort

    a = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    shape = [d if isinstance(d, int) else 1 for d in a.get_inputs()[0].shape]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    (full,) = a.run(None, {a.get_inputs()[0].name: x})
    (reduced,) = b.run(None, {b.get_inputs()[0].name: x})
    expected = np.concatenate(
        [full[:, :4], *(full[:, [4 + i for i in r]].max(axis=1, keepdims=True) for r in rows)],
        axis=1,
    )
    if reduced.shape != expected.shape or not np.allclose(reduced, expected, atol=1e-5):
        raise RoadModelError(f"{out} does not reproduce the rows of {src}")


@dataclass(frozen=True, slots=True)
class RoadModel:
    """A built road model and what the registry entry needs."""

    path: Path
    sha256: str
    size_bytes: int
    imgsz: int
    classes: tuple[str, ...]
    source_sha256: str

    def registry_entry(self, file: str) -> dict[str, object]:
        """The entry to add to the operator's registry (``file`` relative to the registry)."""
        return {
            "name": ROAD_MODEL_NAME,
            "version": ROAD_MODEL_VERSION,
            "file": file,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "task": "detect",
            "format": "onnx",
            "classes": list(self.classes),
            "imgsz": self.imgsz,
            "card": f"{ROAD_MODEL_NAME}-v{ROAD_MODEL_VERSION}.md",
            "description": "Road cameras: person, car, truck (truck = COCO truck/bus/train) from "
            "the COCO-pretrained YOLOv8n, AGPL-3.0; built by the operator, not shipped",
        }


def build_road_model(
    source: Path,
    out: Path,
    calibration: Sequence[Path],
    *,
    imgsz: int = ROAD_IMGSZ,
    config: TrainConfig | None = None,
    work_dir: Path | None = None,
) -> RoadModel:
    """Build the road model from ``source`` (an ultralytics YOLOv8n COCO export, int8 or float).

    Args:
        source: The installed COCO YOLOv8n ONNX file (e.g. ``weights/yolov8n_int8.onnx``).
        out: Where to write the road model.
        calibration: Real photos for the dequantisation's batch-norm statistics and check.
        imgsz: Network input size.
        config: Training configuration (offline ultralytics setup, export options); default
            ``training/config.yaml``'s.
        work_dir: Folder for the intermediate checkpoint and export (default: beside ``out``).

    Raises:
        training.warmstart.WarmStartError: The dequantised model does not reproduce ``source``.
        RoadModelError: The export lacks a road class or has another output layout.
    """
    from training.train import export_onnx, prepare_offline

    cfg = config if config is not None else load_config()
    prepare_offline(cfg)  # before ultralytics is first imported
    from training.pretrained import coco_checkpoint

    work = work_dir if work_dir is not None else out.parent / f"{out.stem}-work"
    work.mkdir(parents=True, exist_ok=True)
    checkpoint, agreement = coco_checkpoint(
        source, MODEL_YAML, work / "coco-yolov8n.pt", list(calibration)
    )
    logger.info("dequantised %s: %s", source, agreement)
    exported = export_onnx(cfg, checkpoint, work / f"coco-yolov8n-{imgsz}.onnx", imgsz=imgsz)
    source_sha = hashlib.sha256(source.read_bytes()).hexdigest()
    reduce_head(
        exported,
        out,
        ROAD_GROUPS,
        {
            "model_name": ROAD_MODEL_NAME,
            "model_version": ROAD_MODEL_VERSION,
            "civicwatch_source": f"{source.name} sha256 {source_sha}, dequantised, "
            f"exported at {imgsz} px",
            "civicwatch_groups": repr(ROAD_GROUPS),
            "license": LICENCE,
        },
    )
    data = out.read_bytes()
    return RoadModel(
        path=out,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        imgsz=imgsz,
        classes=tuple(ROAD_GROUPS),
        source_sha256=source_sha,
    )
