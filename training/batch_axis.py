"""Give an exported detector a dynamic batch axis, so that the edge can run several cameras'
frames through one ``session.run`` (issue 21).

ultralytics exports with ``dynamic=False`` write a static batch of 1 into the graph: the input
and output shapes, and the target shapes of the head's ``Reshape`` nodes (``[1, 64, -1]``,
``[1, 4, 16, N]``...). :func:`make_batch_dynamic` names the batch dimension of inputs and
outputs ``batch`` and turns each such leading ``1`` into ``0`` (ONNX: copy that dimension
from the input), which is exact for these graphs: nothing else in them mixes images. It then
checks the result: a batch of random inputs must give, image by image, the outputs of the
original file run one image at a time (within ``atol``), or nothing is written.

Run from the repository root::

    .venv/bin/python -m training.batch_axis models/civicwatch-street-v5.onnx \\
        models/civicwatch-street-v5-batch.onnx
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

BATCH_DIM = "batch"
"""Name of the dynamic batch dimension in the rewritten file."""


class BatchAxisError(ValueError):
    """The graph cannot be given a dynamic batch axis, or the result differs from the input."""


def _session(data: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])


def check_same_outputs(
    original: bytes, batched: bytes, *, batch: int = 4, atol: float = 1e-4
) -> float:
    """Largest difference between a batched run and single-image runs of the original.

    Raises:
        BatchAxisError: The batched model fails or differs by more than ``atol``.
    """
    single, multi = _session(original), _session(batched)
    spec = single.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in spec.shape[1:]]
    x = np.random.default_rng(0).random((batch, *shape), dtype=np.float32)
    names = [o.name for o in single.get_outputs()]
    ref = [single.run(names, {spec.name: x[i : i + 1]}) for i in range(batch)]
    try:
        out = multi.run(names, {spec.name: x})
    except Exception as exc:  # onnxruntime's own exception types
        raise BatchAxisError(f"the batched model does not run a batch of {batch}: {exc}") from exc
    worst = 0.0
    for k in range(len(names)):
        want = np.concatenate([r[k] for r in ref], axis=0)
        if out[k].shape != want.shape:
            raise BatchAxisError(f"output {names[k]}: shape {out[k].shape}, wanted {want.shape}")
        worst = max(worst, float(np.abs(out[k] - want).max()))
    if worst > atol:
        raise BatchAxisError(f"batched outputs differ from single-image runs by {worst:.2e}")
    return worst


def make_batch_dynamic(src: Path, dst: Path, *, atol: float = 1e-4) -> float:
    """Write ``src`` with a dynamic batch axis to ``dst`` (metadata kept); checked first.

    Returns:
        The largest output difference between a batch and single-image runs.

    Raises:
        BatchAxisError: A ``Reshape`` target or an input does not start with the batch of 1,
            or the check fails.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    for value in [*graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if not dims or (dims[0].HasField("dim_value") and dims[0].dim_value != 1):
            raise BatchAxisError(f"{src}: {value.name} does not start with a batch of 1")
        dims[0].ClearField("dim_value")
        dims[0].dim_param = BATCH_DIM
    del graph.value_info[:]  # inferred shapes with the static batch
    users: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    for init in graph.initializer:
        used = users.get(init.name, [])
        if not used or not all(n.op_type == "Reshape" and n.input[1] == init.name for n in used):
            continue
        target = numpy_helper.to_array(init).copy()
        if target.ndim != 1 or not target.size or target[0] != 1:
            raise BatchAxisError(f"{src}: reshape target {init.name} = {target.tolist()}")
        target[0] = 0  # copy the batch from the input
        init.CopyFrom(numpy_helper.from_array(target, init.name))
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    worst = check_same_outputs(src.read_bytes(), data, atol=atol)
    dst.write_bytes(data)
    logger.info("%s: dynamic batch axis written to %s (max difference %.1e)", src, dst, worst)
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args(argv)
    try:
        worst = make_batch_dynamic(args.src, args.dst)
    except (BatchAxisError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    sys.stdout.write(f"wrote {args.dst} (batch vs single-image runs: max difference {worst:.1e})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
