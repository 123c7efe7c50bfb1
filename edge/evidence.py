"""Evidence snapshots for an event: the clean frame, an annotated frame and a crop.

Every item is a JPEG with its SHA-256; the annotated frame has the zone, the box, the
label and the capture time (UTC and local) burned in, so a printed copy stands alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from contracts import EvidenceKind, EvidenceRef
from edge.types import FloatArray, ImageArray

logger = logging.getLogger(__name__)


class EvidenceConfig(BaseModel):
    """How evidence images are made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jpeg_quality: int = Field(90, ge=30, le=100, description="JPEG quality of every snapshot.")
    crop_padding: float = Field(
        0.15, ge=0.0, le=1.0, description="Margin around the object in its crop, per box side."
    )
    min_crop_px: int = Field(64, ge=8, le=1024, description="Smallest crop side in pixels.")
    timezone: str = Field(
        "Asia/Shanghai", description="Local time zone burned into annotated frames beside UTC."
    )


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One evidence file: its bytes and what describes it on the wire."""

    kind: EvidenceKind
    content_type: str
    data: bytes
    sha256: str
    captured_at: datetime

    @classmethod
    def create(
        cls, kind: EvidenceKind, content_type: str, data: bytes, captured_at: datetime
    ) -> EvidenceItem:
        return cls(kind, content_type, data, hashlib.sha256(data).hexdigest(), captured_at)

    def ref(self) -> EvidenceRef:
        return EvidenceRef.model_validate(
            {
                "sha256": self.sha256,
                "kind": self.kind,
                "content_type": self.content_type,
                "byte_size": len(self.data),
                "captured_at": self.captured_at,
            }
        )


@dataclass(frozen=True, slots=True)
class Annotation:
    """What to draw on the annotated frame."""

    zone_polygon_px: FloatArray  # (K, 2)
    zone_label: str
    box_xyxy: FloatArray  # (4,)
    box_label: str


def encode_jpeg(image: ImageArray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {image.shape}")
    return bytes(buf.tobytes())


def crop_box(image: ImageArray, xyxy: FloatArray, padding: float, min_side: int) -> ImageArray:
    """The box plus ``padding`` of its size on each side, at least ``min_side`` px, clipped."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    bw, bh = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w = max(bw * (1 + 2 * padding), min_side) / 2
    half_h = max(bh * (1 + 2 * padding), min_side) / 2
    left, right = int(max(cx - half_w, 0)), int(min(cx + half_w, w))
    top, bottom = int(max(cy - half_h, 0)), int(min(cy + half_h, h))
    if right <= left or bottom <= top:
        raise ValueError(f"box {xyxy.tolist()} lies outside the {w}x{h} frame")
    return np.ascontiguousarray(image[top:bottom, left:right])


def annotate(
    image: ImageArray, annotation: Annotation, captured_at: datetime, timezone: str
) -> ImageArray:
    """A copy of ``image`` with zone, box, label and timestamps drawn in."""
    out = image.copy()
    h = out.shape[0]
    scale = max(h / 720.0, 0.4)
    thick = max(round(2 * scale), 1)
    poly = annotation.zone_polygon_px.astype(np.int32).reshape(-1, 1, 2)
    overlay = out.copy()
    cv2.fillPoly(overlay, [poly], (0, 200, 255))
    cv2.addWeighted(overlay, 0.18, out, 0.82, 0, dst=out)
    cv2.polylines(out, [poly], True, (0, 200, 255), thick, cv2.LINE_AA)
    x1, y1, x2, y2 = (round(float(v)) for v in annotation.box_xyxy)
    cv2.rectangle(out, (x1, y1), (x2, y2), (0, 0, 255), thick + 1, cv2.LINE_AA)
    _label(out, annotation.box_label, (x1, max(y1 - 4, 0)), scale, (0, 0, 255))
    local = captured_at.astimezone(ZoneInfo(timezone))
    stamp = (
        f"{captured_at.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M:%S.%f}"[:-3]
        + f" UTC | {local:%Y-%m-%d %H:%M:%S} {timezone} | {annotation.zone_label}"
    )
    _label(out, stamp, (int(8 * scale), h - int(10 * scale)), scale, (32, 32, 32))
    return out


def _label(
    image: ImageArray, text: str, origin: tuple[int, int], scale: float, bg: tuple[int, int, int]
) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    size = 0.55 * scale
    (tw, th), base = cv2.getTextSize(text, font, size, 1)
    x, y = origin
    y = max(y, th + base)
    cv2.rectangle(image, (x, y - th - base), (x + tw + 4, y + base // 2), bg, -1)
    cv2.putText(image, text, (x + 2, y - base // 2), font, size, (255, 255, 255), 1, cv2.LINE_AA)


def snapshot_set(
    image: ImageArray,
    annotation: Annotation,
    captured_at: datetime,
    config: EvidenceConfig,
) -> list[EvidenceItem]:
    """The three snapshots of an event's start: clean frame, annotated frame, object crop."""
    clean = encode_jpeg(image, config.jpeg_quality)
    marked = encode_jpeg(
        annotate(image, annotation, captured_at, config.timezone), config.jpeg_quality
    )
    crop = encode_jpeg(
        crop_box(image, annotation.box_xyxy, config.crop_padding, config.min_crop_px),
        config.jpeg_quality,
    )
    return [
        EvidenceItem.create(EvidenceKind.FRAME, "image/jpeg", clean, captured_at),
        EvidenceItem.create(EvidenceKind.ANNOTATED, "image/jpeg", marked, captured_at),
        EvidenceItem.create(EvidenceKind.CROP, "image/jpeg", crop, captured_at),
    ]


def json_item(kind: EvidenceKind, document: object, captured_at: datetime) -> EvidenceItem:
    """A JSON evidence item (sensor series, measurements), canonically encoded."""
    data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return EvidenceItem.create(kind, "application/json", data, captured_at)
