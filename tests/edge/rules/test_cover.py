"""The load region, crops, and the ONNX cover classifier's checks of the model file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edge.rules.cover import (
    COVER_LABELS,
    LOAD_REGION_SPEC,
    OnnxCoverClassifier,
    crop,
    load_region,
    preprocess,
)

REPO = Path(__file__).resolve().parents[3]
COVER_MODEL = REPO / "models" / "cover-v1.onnx"


@pytest.mark.parametrize(
    ("xyxy", "expected"),
    [
        ([100, 100, 300, 200], [92.0, 96.0, 308.0, 164.0]),
        ([-20, -10, 50, 90], [0.0, 0.0, 52.8, 54.0]),  # clipped at the frame's edges
        ([600, 300, 700, 360], [596.0, 297.6, 640.0, 338.4]),
    ],
)
def test_load_region(xyxy: list[float], expected: list[float]) -> None:
    assert load_region(xyxy, (640, 360)).tolist() == pytest.approx(expected, abs=1e-3)


def test_crop_rounds_outwards_and_refuses_empty_boxes() -> None:
    image = np.arange(100 * 80 * 3, dtype=np.uint32).reshape(100, 80, 3).astype(np.uint8)
    assert crop(image, [10.2, 20.7, 30.1, 40.0]).shape == (20, 21, 3)
    with pytest.raises(ValueError, match="no pixels"):
        crop(image, [90, 10, 95, 20])


def test_preprocess_is_rgb_nchw_in_unit_range() -> None:
    bgr = np.zeros((10, 20, 3), dtype=np.uint8)
    bgr[..., 0] = 255  # blue
    batch = preprocess([bgr], (8, 12))
    assert batch.shape == (1, 3, 8, 12) and batch.dtype == np.float32
    assert batch[0, 2].min() == 1.0 and batch[0, 0].max() == 0.0  # blue is the last channel


def test_the_committed_model_loads_and_answers() -> None:
    classifier = OnnxCoverClassifier(COVER_MODEL)
    assert classifier.name == "civicwatch-cover" and len(classifier.sha256) == 64
    crops = [np.full((30, 60, 3), v, dtype=np.uint8) for v in (0, 128, 255)]
    p = classifier.p_uncovered(crops)
    assert p.shape == (3,) and p.dtype == np.float32 and ((p >= 0) & (p <= 1)).all()
    assert classifier.p_uncovered([]).shape == (0,)


def _model(tmp_path: Path, **metadata: str) -> Path:
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["n", 3, 8, 8])
    y = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 2])
    shape = helper.make_node(
        "Constant", [], ["s"], value=helper.make_tensor("s", TensorProto.INT64, [2], [-1, 192])
    )
    flat = helper.make_node("Reshape", ["images", "s"], ["f"])
    w = helper.make_tensor("w", TensorProto.FLOAT, [192, 2], [0.0] * 384)
    mm = helper.make_node("MatMul", ["f", "w"], ["z"])
    soft = helper.make_node("Softmax", ["z"], ["probs"], axis=1)
    graph = helper.make_graph([shape, flat, mm, soft], "g", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    return path


GOOD = {
    "civicwatch_task": "truck_cover",
    "names": json.dumps(list(COVER_LABELS)),
    "imgsz": "[8, 8]",
    "load_region": LOAD_REGION_SPEC,
}


def test_a_well_formed_model_is_accepted(tmp_path: Path) -> None:
    classifier = OnnxCoverClassifier(_model(tmp_path, **GOOD))
    p = classifier.p_uncovered([np.zeros((5, 5, 3), dtype=np.uint8)])
    assert p.tolist() == [0.5]
    assert classifier.name == "m" and classifier.version == "unknown"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"civicwatch_task": "detect"}, "not a truck-cover model"),
        ({"names": '["open", "closed"]'}, "expected \\('covered', 'uncovered'\\)"),
        ({"names": "covered,uncovered"}, "bad or missing 'names'"),
        ({"imgsz": "[8]"}, "is not \\[height, width\\]"),
        ({"load_region": "top0.5_pad0"}, "trained on load regions 'top0.5_pad0'"),
    ],
)
def test_a_model_of_another_kind_is_refused(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        OnnxCoverClassifier(_model(tmp_path, **{**GOOD, **change}))


def test_missing_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        OnnxCoverClassifier(tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a loadable ONNX model"):
        OnnxCoverClassifier(junk)
