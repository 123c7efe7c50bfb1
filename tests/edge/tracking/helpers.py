"""Detections and frame helpers shared by the tracker tests."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from edge.types import Detections

NAMES = ("person", "stall")
T0 = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)

Box = tuple[str, float, float, float, float]  # label, x1, y1, x2, y2 (score 0.8)
Row = tuple[str, float, float, float, float, float]  # label, x1, y1, x2, y2, score


def scored(*rows: Row) -> Detections:
    """Detections of ``rows``, each with its own score."""
    if not rows:
        return Detections.empty(NAMES)
    return Detections(
        xyxy=np.array([r[1:5] for r in rows], dtype=np.float32),
        confidence=np.array([r[5] for r in rows], dtype=np.float32),
        class_id=np.array([NAMES.index(r[0]) for r in rows], dtype=np.int64),
        names=NAMES,
    )


def boxes(*rows: Box) -> Detections:
    """Detections of ``rows``, every one scoring 0.8."""
    return scored(*((*r, 0.8) for r in rows))


def row(
    x: float,
    y: float = 100.0,
    *,
    w: float = 100.0,
    h: float = 100.0,
    label: str = "stall",
    score: float = 0.9,
) -> Row:
    """A ``w`` x ``h`` box with its top-left corner at ``(x, y)``."""
    return (label, x, y, x + w, y + h, score)
