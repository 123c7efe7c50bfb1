"""Optional int8 version of an fp32 ONNX model (onnxruntime static QDQ quantisation).

Calibration images are letterboxed exactly as the detector feeds them; the quantised file
keeps the fp32 file's metadata (``names``, ``imgsz``, ``stride``) so that the edge reads it the
same way. Measure its accuracy with :func:`training.evaluate.evaluate_holdout` before use.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from edge.detectors.plugins.yolo import YoloConfig, YoloDetector

if TYPE_CHECKING:
    import onnx

logger = logging.getLogger(__name__)


def head_postprocess_nodes(model: onnx.ModelProto) -> list[str]:
    """Nodes of the detection head to keep in fp32.

    The head ends by concatenating box coordinates (0..imgsz) with class scores (0..1) into
    one tensor; quantising that with one scale wipes out the scores. Everything in the last
    ``/model.N/`` block except its 3x3 convolution stacks (``cv2.i.0/1``, ``cv3.i.0/1``) stays
    in floating point: the final 1x1 convolutions, DFL, sigmoid and the box arithmetic.
    """
    blocks = [
        int(m.group(1)) for n in model.graph.node if (m := re.match(r"/model\.(\d+)/", n.name))
    ]
    if not blocks:
        return []
    head = f"/model.{max(blocks)}/"
    keep_quantized = re.compile(re.escape(head) + r"cv[23]\.\d+/cv[23]\.\d+\.[01]/")
    return [
        n.name
        for n in model.graph.node
        if n.name.startswith(head) and not keep_quantized.match(n.name)
    ]


def quantize_int8(fp32: Path, out: Path, calibration: list[Path], imgsz: int) -> Path:
    """Write an int8 (QDQ, per-channel weights) copy of ``fp32`` to ``out``.

    Args:
        fp32: The fp32 ONNX model.
        out: Destination path.
        calibration: Images to calibrate activation ranges with (a few dozen suffice).
        imgsz: The model's square input size.

    Returns:
        ``out``.

    Raises:
        ValueError: If no calibration image can be read.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    images = [
        np.asarray(img, dtype=np.uint8)
        for img in (cv2.imread(str(p)) for p in calibration)
        if img is not None
    ]
    if not images:
        raise ValueError(f"none of the {len(calibration)} calibration images could be read")
    input_name = onnx.load(str(fp32), load_external_data=False).graph.input[0].name
    # the edge's own preprocessing (letterbox, RGB, 0..1), so calibration sees what it will see
    detector = YoloDetector(YoloConfig(path=fp32))
    if detector.input_size != (imgsz, imgsz):
        raise ValueError(f"{fp32} takes {detector.input_size} (w, h), not {imgsz}x{imgsz}")

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._it: Iterator[dict[str, npt.NDArray[np.float32]]] = (
                {input_name: detector.preprocess(img).tensor} for img in images
            )

        def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
            return next(self._it, None)

    prepared = out.with_suffix(".prep.onnx")
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    excluded = head_postprocess_nodes(onnx.load(str(prepared), load_external_data=False))
    quantize_static(
        str(prepared),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=excluded,
    )
    prepared.unlink(missing_ok=True)
    src = onnx.load(str(fp32))
    dst = onnx.load(str(out))
    del dst.metadata_props[:]
    for prop in src.metadata_props:
        dst.metadata_props.add(key=prop.key, value=prop.value)
    onnx.save(dst, str(out))
    logger.info(
        "wrote int8 model %s (%d bytes) from %d calibration images",
        out,
        out.stat().st_size,
        len(images),
    )
    return out
