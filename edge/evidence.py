"""Evidence snapshots for an event: the clean frame, an annotated frame and a crop.

Every item is a JPEG with its SHA-256; the annotated frame has the zone, the box, the
label and the capture time (UTC and local) burned in, so a printed copy stands alone.

No item is made larger than :data:`contracts.limits.MAX_EVIDENCE_BYTES`, the one limit
the wire schema, the broker configuration and the server share: a snapshot that would be
larger is encoded again at a lower JPEG quality, then at a smaller size, until it fits
(:func:`encode_jpeg_within`); anything else that is too large is refused where it is made
(:class:`EvidenceTooLargeError`), so the outbox never holds an item the broker cannot take.
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
from contracts.limits import MAX_EVIDENCE_BYTES
from edge.types import FloatArray, ImageArray

logger = logging.getLogger(__name__)


class EvidenceTooLargeError(ValueError):
    """An evidence item larger than :data:`contracts.limits.MAX_EVIDENCE_BYTES`."""


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
        """The item for ``data``.

        Raises:
            EvidenceTooLargeError: ``data`` is larger than the contract's evidence limit.
        """
        if len(data) > MAX_EVIDENCE_BYTES:
            raise EvidenceTooLargeError(
                f"{kind} evidence of {len(data)} bytes exceeds the {MAX_EVIDENCE_BYTES}-byte "
                "limit (contracts.limits.MAX_EVIDENCE_BYTES)"
            )
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


def encode_jpeg_within(
    image: ImageArray, quality: int, max_bytes: int = MAX_EVIDENCE_BYTES
) -> bytes:
    """``image`` as a JPEG of at most ``max_bytes``: lower quality first, then smaller.

    Raises:
        EvidenceTooLargeError: Not even a 64-pixel, quality-30 JPEG fits (``max_bytes`` tiny).
    """
    data = encode_jpeg(image, quality)
    if len(data) <= max_bytes:
        return data
    original = len(data)
    for lower in (75, 50, 30):
        if lower < quality:
            data = encode_jpeg(image, lower)
            if len(data) <= max_bytes:
                break
    scaled = image
    while len(data) > max_bytes and min(scaled.shape[:2]) > 64:
        h, w = scaled.shape[:2]
        size = (max(w * 3 // 4, 1), max(h * 3 // 4, 1))
        scaled = np.asarray(cv2.resize(scaled, size, interpolation=cv2.INTER_AREA))
        data = encode_jpeg(scaled, 30)
    if len(data) > max_bytes:
        raise EvidenceTooLargeError(f"no JPEG of the image fits in {max_bytes} bytes")
    logger.warning(
        "a %dx%d snapshot was %d bytes, over the %d-byte evidence limit; stored as %dx%d, %d bytes",
        image.shape[1],
        image.shape[0],
        original,
        max_bytes,
        scaled.shape[1],
        scaled.shape[0],
        len(data),
    )
    return data


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
    clean = encode_jpeg_within(image, config.jpeg_quality)
    marked = encode_jpeg_within(
        annotate(image, annotation, captured_at, config.timezone), config.jpeg_quality
    )
    crop = encode_jpeg_within(
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
