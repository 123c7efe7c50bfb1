"""The second-stage truck-load classifier: is a muck truck's load covered or open?

The **load region** of a truck is the upper part of its box (:func:`load_region`): the bed's
rim and whatever lies on it (a tarpaulin ridge, or a heap of soil), in side, front and rear
views alike, without needing to know which end the cab is. Training
(``training/cover``) crops exactly this region from the scene generator's trucks, so the
edge and the model agree on what they look at.

:class:`OnnxCoverClassifier` runs the exported model with onnxruntime. The ONNX file
describes itself in its metadata: ``civicwatch_task = truck_cover``, ``names`` (a JSON list,
``["covered", "uncovered"]``), ``imgsz`` (``[height, width]``), ``load_region`` (the crop
definition, checked against this module's), and outputs class probabilities for an input
of RGB float32 in 0..1 (NCHW).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from edge.onnx_session import open_cpu_session
from edge.types import FloatArray, ImageArray

logger = logging.getLogger(__name__)

COVER_LABELS: tuple[str, str] = ("covered", "uncovered")
"""Class order of the classifier's output."""

LOAD_TOP_FRACTION = 0.6
"""The load region is the top 60 % of the truck box."""
LOAD_PAD_FRACTION = 0.04
"""Padding added on every side of the load region, as a fraction of the box size."""
LOAD_REGION_SPEC = f"top{LOAD_TOP_FRACTION:g}_pad{LOAD_PAD_FRACTION:g}"
"""The crop definition written into (and checked against) the model's metadata."""


def load_region(xyxy: npt.ArrayLike, resolution_wh: tuple[int, int]) -> FloatArray:
    """The load region of a truck box, clipped to the frame.

    Args:
        xyxy: The truck's box in pixels.
        resolution_wh: ``(width, height)`` of the frame.

    Returns:
        ``(4,)`` float32 box in pixels (may be empty if the truck box is off-frame).

    Example:
        >>> load_region([100, 100, 300, 200], (640, 360)).tolist()
        [92.0, 96.0, 308.0, 164.0]
    """
    x1, y1, x2, y2 = (float(v) for v in np.asarray(xyxy, dtype=np.float64).reshape(4))
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    pad_x, pad_y = LOAD_PAD_FRACTION * w, LOAD_PAD_FRACTION * h
    width, height = resolution_wh
    box = np.array(
        [
            max(0.0, x1 - pad_x),
            max(0.0, y1 - pad_y),
            min(float(width), x2 + pad_x),
            min(float(height), y1 + LOAD_TOP_FRACTION * h + pad_y),
        ],
        dtype=np.float32,
    )
    return box


def crop(image: ImageArray, box: npt.ArrayLike) -> ImageArray:
    """The pixels of ``box`` (rounded outwards), as a contiguous copy.

    Raises:
        ValueError: If the box has no pixels inside the image.
    """
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    left, top = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
    right, bottom = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
    if right <= left or bottom <= top:
        raise ValueError(f"box {[x1, y1, x2, y2]} has no pixels in the {w}x{h} image")
    return np.ascontiguousarray(image[top:bottom, left:right])


class CoverClassifier(Protocol):
    """Tells covered from uncovered loads."""

    @property
    def name(self) -> str:
        """Model name (for event details)."""
        ...

    def p_uncovered(self, crops: Sequence[ImageArray]) -> FloatArray:
        """Probability that each load-region crop shows an uncovered load, ``(N,)``."""
        ...


def preprocess(crops: Sequence[ImageArray], imgsz_hw: tuple[int, int]) -> FloatArray:
    """Load-region crops as the model's input: ``(N, 3, H, W)`` RGB float32 in 0..1."""
    h, w = imgsz_hw
    batch = np.empty((len(crops), 3, h, w), dtype=np.float32)
    for k, image in enumerate(crops):
        resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        batch[k] = resized[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255.0
    return batch


class OnnxCoverClassifier:
    """The cover classifier exported by ``training/cover``, run with onnxruntime.

    Args:
        path: The ``.onnx`` file.
        threads: Intra-op threads of the session.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not a truck-cover model of the expected form.
    """

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"cover model {path} not found")
        data = path.read_bytes()
        self.path = path
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.session = open_cpu_session(data, threads=threads, label=str(path))
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("civicwatch_task") != "truck_cover":
            raise ValueError(f"{path} is not a truck-cover model (metadata civicwatch_task)")
        try:
            names = tuple(json.loads(meta["names"]))
            imgsz = tuple(int(v) for v in json.loads(meta["imgsz"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}: bad or missing 'names' / 'imgsz' metadata: {exc}") from exc
        if names != COVER_LABELS:
            raise ValueError(f"{path}: classes {names}, expected {COVER_LABELS}")
        if len(imgsz) != 2 or min(imgsz) < 8:
            raise ValueError(f"{path}: imgsz {imgsz} is not [height, width]")
        if meta.get("load_region") != LOAD_REGION_SPEC:
            raise ValueError(
                f"{path} was trained on load regions {meta.get('load_region')!r}, this edge "
                f"crops {LOAD_REGION_SPEC!r}"
            )
        self.imgsz_hw: tuple[int, int] = (imgsz[0], imgsz[1])
        self._name: str = str(meta.get("name", path.stem))
        self.version: str = str(meta.get("version", "unknown"))
        self._input = self.session.get_inputs()[0].name
        self.p_uncovered([np.zeros((self.imgsz_hw[0], self.imgsz_hw[1], 3), dtype=np.uint8)])
        logger.info(
            "cover classifier %s %s (%s) loaded from %s",
            self._name,
            self.version,
            self.sha256[:12],
            path,
        )

    @property
    def name(self) -> str:
        """Model name from the metadata (the file stem when absent)."""
        return self._name

    def p_uncovered(self, crops: Sequence[ImageArray]) -> FloatArray:
        """Probability of an uncovered load for each crop, ``(N,)`` float32."""
        if not crops:
            return np.zeros(0, dtype=np.float32)
        batch = preprocess(crops, self.imgsz_hw)
        (probs,) = self.session.run(None, {self._input: batch})
        out = np.asarray(probs, dtype=np.float32).reshape(len(crops), len(COVER_LABELS))
        result: FloatArray = out[:, 1].copy()
        return result
