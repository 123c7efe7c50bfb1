"""Loading a plate model: check the file's SHA-256, then open it with onnxruntime."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from edge.onnx_session import open_cpu_session
from edge.plates.settings import PlateModelFile

if TYPE_CHECKING:
    import onnxruntime as ort

logger = logging.getLogger(__name__)


class PlateModelError(ValueError):
    """A plate model file is missing, not the listed file, or not a model of the expected form."""


def verified_bytes(model: PlateModelFile, what: str) -> bytes:
    """The file's bytes, once its SHA-256 is the listed one.

    Args:
        model: The file and its expected SHA-256.
        what: What the model is, for the error (``"plate detector"``).

    Raises:
        PlateModelError: If the file is missing or its SHA-256 differs.
    """
    if not model.path.is_file():
        raise PlateModelError(f"{what} {model.path} not found (install it and list its sha256)")
    data = model.path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != model.sha256:
        raise PlateModelError(
            f"{what} {model.path} has sha256 {digest} but the config lists {model.sha256}: "
            "wrong or corrupted file"
        )
    return data


def open_session(model: PlateModelFile, what: str, *, threads: int) -> ort.InferenceSession:
    """A CPU onnxruntime session of a verified plate model file.

    Raises:
        PlateModelError: If the file is missing, its SHA-256 differs, or it does not load.
    """
    data = verified_bytes(model, what)
    session = open_cpu_session(
        data, threads=threads, label=f"{what} {model.path}", error=PlateModelError
    )
    logger.info("%s loaded from %s (%s)", what, model.path, model.sha256[:12])
    return session


def check_io(
    session: ort.InferenceSession,
    path: Path,
    what: str,
    *,
    input_shape: tuple[int, ...],
    outputs: int,
) -> str:
    """The input's name, once the model's input shape and output count are as expected.

    Raises:
        PlateModelError: If they are not.
    """
    (first, *rest) = session.get_inputs()
    shape = tuple(first.shape)
    if rest or shape != input_shape:
        raise PlateModelError(
            f"{what} {path} takes {[tuple(i.shape) for i in session.get_inputs()]}, "
            f"expected one input {input_shape}"
        )
    if len(session.get_outputs()) != outputs:
        raise PlateModelError(
            f"{what} {path} has {len(session.get_outputs())} output(s), expected {outputs}"
        )
    return str(first.name)
