"""Fitting an image to a network's input size, and mapping boxes back.

Two fits cover the supported formats: *letterbox* (scale keeping the aspect ratio, pad
the rest with grey 114, either centred as ultralytics does or in the top-left corner as
YOLOX does) and plain *resize* (stretch to the input size, as NanoDet and FastestDet do).
Both are described by one :class:`ImageTransform`, which maps boxes back to the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from edge.types import FloatArray, ImageArray

PAD_VALUE = 114
"""Grey used for letterbox padding by both ultralytics and YOLOX."""


@dataclass(frozen=True, slots=True)
class ImageTransform:
    """``network = image * scale + pad``, per axis, in pixels.

    Attributes:
        scale_x: Network pixels per image pixel along x.
        scale_y: Network pixels per image pixel along y.
        pad_x: Network pixels of padding left of the image content.
        pad_y: Network pixels of padding above the image content.
    """

    scale_x: float
    scale_y: float
    pad_x: float = 0.0
    pad_y: float = 0.0

    def __post_init__(self) -> None:
        if not (self.scale_x > 0 and self.scale_y > 0):
            raise ValueError(f"scales must be positive, got {self.scale_x}, {self.scale_y}")

    def to_image(self, xyxy: FloatArray) -> FloatArray:
        """Map ``(N, 4)`` boxes from network pixels to image pixels (no clipping)."""
        offset = np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y], dtype=np.float32)
        scale = np.array([self.scale_x, self.scale_y, self.scale_x, self.scale_y], dtype=np.float32)
        return ((xyxy.astype(np.float32) - offset) / scale).astype(np.float32)

    def to_network(self, xyxy: FloatArray) -> FloatArray:
        """Map ``(N, 4)`` boxes from image pixels to network pixels."""
        offset = np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y], dtype=np.float32)
        scale = np.array([self.scale_x, self.scale_y, self.scale_x, self.scale_y], dtype=np.float32)
        return (xyxy.astype(np.float32) * scale + offset).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Fitted:
    """An image fitted to the network size and the transform that did it."""

    image: ImageArray
    transform: ImageTransform


def _check_size(size_wh: tuple[int, int]) -> None:
    if size_wh[0] <= 0 or size_wh[1] <= 0:
        raise ValueError(f"target size must be positive, got {size_wh}")


def letterbox(
    image: ImageArray,
    size_wh: tuple[int, int],
    *,
    center: bool = True,
    pad_value: int = PAD_VALUE,
) -> Fitted:
    """Scale ``image`` to fit ``size_wh`` keeping its aspect ratio, then pad.

    Args:
        image: ``(H, W, 3)`` uint8 image.
        size_wh: Network input ``(width, height)``.
        center: Pad evenly on both sides (ultralytics; an odd pixel goes right/bottom)
            or only right and bottom (YOLOX).
        pad_value: Grey level of the padding.

    Returns:
        The ``(height, width, 3)`` network image and its :class:`ImageTransform`.

    Example:
        >>> import numpy as np
        >>> fitted = letterbox(np.zeros((720, 1280, 3), np.uint8), (640, 640))
        >>> fitted.image.shape, fitted.transform.pad_y
        ((640, 640, 3), 140.0)
    """
    _check_size(size_wh)
    h, w = image.shape[:2]
    out_w, out_h = size_wh
    ratio = min(out_w / w, out_h / h)
    if center:
        new_w = max(1, min(out_w, round(w * ratio)))
        new_h = max(1, min(out_h, round(h * ratio)))
    else:  # YOLOX truncates
        new_w = max(1, min(out_w, int(w * ratio)))
        new_h = max(1, min(out_h, int(h * ratio)))
    resized = (
        image
        if (new_w, new_h) == (w, h)
        else cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    )
    if center:
        left, top = (out_w - new_w) // 2, (out_h - new_h) // 2
    else:
        left, top = 0, 0
    right, bottom = out_w - new_w - left, out_h - new_h - top
    if left or top or right or bottom:
        padded = cv2.copyMakeBorder(
            resized,
            top,
            bottom,
            left,
            right,
            cv2.BORDER_CONSTANT,
            value=(pad_value, pad_value, pad_value),
        )
    else:
        padded = resized
    transform = ImageTransform(
        scale_x=new_w / w, scale_y=new_h / h, pad_x=float(left), pad_y=float(top)
    )
    return Fitted(image=np.ascontiguousarray(padded, dtype=np.uint8), transform=transform)


def resize(image: ImageArray, size_wh: tuple[int, int]) -> Fitted:
    """Stretch ``image`` to ``size_wh`` (aspect ratio not kept).

    Example:
        >>> import numpy as np
        >>> resize(np.zeros((100, 200, 3), np.uint8), (50, 50)).transform.scale_x
        0.25
    """
    _check_size(size_wh)
    h, w = image.shape[:2]
    out_w, out_h = size_wh
    resized = (
        image
        if (out_w, out_h) == (w, h)
        else cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    )
    return Fitted(
        image=np.ascontiguousarray(resized, dtype=np.uint8),
        transform=ImageTransform(scale_x=out_w / w, scale_y=out_h / h),
    )


def to_blob(
    image: ImageArray,
    *,
    scale: float = 1.0,
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0),
    swap_rb: bool = False,
) -> FloatArray:
    """``(1, 3, H, W)`` float32 ``(image - mean) * scale``, channels swapped if asked.

    Example:
        >>> import numpy as np
        >>> to_blob(np.full((2, 3, 3), 255, np.uint8), scale=1 / 255).shape
        (1, 3, 2, 3)
    """
    blob_from_image: Any = cv2.dnn.blobFromImage
    blob: FloatArray = blob_from_image(image, scalefactor=scale, mean=mean, swapRB=swap_rb)
    return blob
