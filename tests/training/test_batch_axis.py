"""training.batch_axis: a dynamic batch axis, checked against single-image runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from training.batch_axis import BatchAxisError, make_batch_dynamic

MODELS = Path(__file__).resolve().parents[2] / "models"


def _tiny(path: Path, *, batch: int = 1, target: list[int] | None = None) -> Path:
    """images (batch, 3, 4, 4) -> Reshape to ``target`` -> Relu: a head in miniature."""
    shape = np.array(target or [1, 3, -1], dtype=np.int64)
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["images", "shape"], ["flat"]),
            helper.make_node("Relu", ["flat"], ["output0"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, 4, 4])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, 3, 16])],
        [numpy_helper.from_array(shape, "shape")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.metadata_props.add(key="imgsz", value="[4, 4]")
    onnx.save(model, str(path))
    return path


def test_tiny_head_gets_a_batch_axis(tmp_path: Path) -> None:
    out = tmp_path / "batch.onnx"
    assert make_batch_dynamic(_tiny(tmp_path / "m.onnx"), out) == 0.0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == ["batch", 3, 4, 4]
    x = np.random.default_rng(1).standard_normal((5, 3, 4, 4)).astype(np.float32)
    (y,) = session.run(None, {"images": x})
    np.testing.assert_array_equal(y, np.maximum(x.reshape(5, 3, 16), 0))
    assert dict(session.get_modelmeta().custom_metadata_map)["imgsz"] == "[4, 4]"


@pytest.mark.parametrize(
    ("batch", "target", "message"),
    [(2, None, "does not start with a batch of 1"), (1, [3, 1, -1], "reshape target")],
)
def test_graphs_that_cannot_batch_are_refused(
    tmp_path: Path, batch: int, target: list[int] | None, message: str
) -> None:
    out = tmp_path / "batch.onnx"
    with pytest.raises(BatchAxisError, match=message):
        make_batch_dynamic(_tiny(tmp_path / "m.onnx", batch=batch, target=target), out)
    assert not out.exists()


def test_the_shipped_v4_gets_identical_outputs(tmp_path: Path) -> None:
    out = tmp_path / "v4.onnx"
    assert make_batch_dynamic(MODELS / "civicwatch-street-v4.onnx", out) <= 1e-4
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[0] == "batch"
    assert session.get_outputs()[0].shape[0] == "batch"
