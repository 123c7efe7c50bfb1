"""Opening a small second-stage ONNX model (cover classifier, plate models) on the CPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnxruntime as ort


def open_cpu_session(
    data: bytes,
    *,
    threads: int,
    label: str,
    error: Callable[[str], Exception] = ValueError,
) -> ort.InferenceSession:
    """An onnxruntime CPU session of ``data`` with ``threads`` intra-op threads, no spinning.

    Args:
        data: The model file's bytes (already read, and hashed by the caller).
        threads: Intra-op threads.
        label: Names the model in the error (``"plate detector /models/x.onnx"``).
        error: The exception type to raise.

    Raises:
        Exception: ``error("<label> is not a loadable ONNX model: ...")`` if it does not load.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise error(f"{label} is not a loadable ONNX model: {exc}") from exc
