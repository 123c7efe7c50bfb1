"""Tiny ONNX models built with ``onnx.helper`` that emit fixed tensors (plumbing tests)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

OnnxFactory = Callable[..., Path]


def build_fixed_output_model(
    path: Path,
    *,
    input_shape: tuple[int | str, ...],
    outputs: Mapping[str, npt.NDArray[np.float32]],
    metadata: Mapping[str, str] | None = None,
    input_name: str = "images",
) -> Path:
    """Write an ONNX model whose outputs are the given constants.

    Each output is ``constant + 0 * max(input)``, so the graph really consumes the
    image input and runs through onnxruntime like a detector would.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("ReduceMax", [input_name], ["input_max"], keepdims=0),
        helper.make_node(
            "Constant",
            [],
            ["zero"],
            value=numpy_helper.from_array(np.array(0.0, dtype=np.float32)),
        ),
        helper.make_node("Mul", ["input_max", "zero"], ["nothing"]),
    ]
    graph_outputs = []
    for i, (name, value) in enumerate(outputs.items()):
        const = f"const_{i}"
        nodes.append(
            helper.make_node(
                "Constant",
                [],
                [const],
                value=numpy_helper.from_array(value.astype(np.float32), name=f"value_{i}"),
            )
        )
        nodes.append(helper.make_node("Add", [const, "nothing"], [name]))
        graph_outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, value.shape))
    graph = helper.make_graph(
        nodes,
        "fixed",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(input_shape))],
        graph_outputs,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata:
        helper.set_model_props(model, dict(metadata))
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture
def make_onnx(tmp_path: Path) -> OnnxFactory:
    """``make_onnx(name, input_shape=..., outputs=..., metadata=...) -> Path`` in tmp_path."""

    def factory(name: str = "model.onnx", **kwargs: object) -> Path:
        return build_fixed_output_model(tmp_path / name, **kwargs)  # type: ignore[arg-type]

    return factory
