"""What a reviewed case gives the training set: pure decisions, tested without I/O.

* A confirmed case: its boxes (as corrected, added ones too) are labels.
* A case rejected as *wrong object*: the wrong box is removed (or relabelled as what the
  reviewer said it is) and the frame is kept as a hard negative.
* Rejected as *not a violation* or *wrong place*: the objects were seen right (the rule or
  the zone was wrong), so the boxes are labels as for a confirmed case.
* *duplicate*, *evidence unusable*, a reject with only free text (nothing a model can learn
  from), a case without a clean frame: skipped, with the reason.

Splits: frames are grouped by camera and time block (``block_hours`` of ``first_seen``);
a whole group goes to one split, chosen by a hash of the group, so a stall that stands at
one camera for a day never lands on both sides, and a group keeps its split when the
export is made again later with more cases (the test split stays frozen).

Near-duplicates: a 256-bit difference hash (dHash, 17x16 grey) per frame; within one camera,
a frame whose hash differs from an earlier kept frame's in at most
:data:`NEAR_DUPLICATE_BITS` bits is folded into it (listed, not written).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from server.review_labels.model import MODEL_CLASSES, FrameBox, ReasonCode

NEAR_DUPLICATE_BITS = 16
"""Hamming distance (of the 256 dHash bits) up to which two frames of a camera are one frame.

The same scene captured again (JPEG noise, a brightness change, a shift of a pixel or two)
differs in 0-6 bits; another scene on the same background in 35 or more
(tests/server/dataset_export/test_phash.py checks both sides of the threshold on real JPEGs)."""


class Split(StrEnum):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


class FrameKind(StrEnum):
    POSITIVE = "positive"  # the detections (as corrected) are right
    HARD_NEGATIVE = "hard_negative"  # the model saw something that is not there


@dataclass(frozen=True, slots=True)
class ReviewedCase:
    """One reviewed case as the export sees it (read from the database).

    Attributes:
        outcome: ``confirmed`` or ``rejected`` (the status after its last final verdict).
        reason_code: The latest structured reason's code (``None``: free text only).
    """

    case_id: int
    event_id: str
    edge_id: str
    camera_id: str
    first_seen: datetime
    outcome: str
    reason_code: str | None
    reason_detail: str | None
    reason_text: str | None
    reviewer: str | None
    model_name: str
    model_version: str
    model_sha256: str
    frame_sha256: str | None
    boxes: tuple[FrameBox, ...]
    duplicate_of: int | None = None


@dataclass(frozen=True, slots=True)
class YoloLabel:
    """One label line: class id and normalised centre and size."""

    class_id: int
    cx: float
    cy: float
    w: float
    h: float

    def line(self) -> str:
        return f"{self.class_id} {self.cx:.6f} {self.cy:.6f} {self.w:.6f} {self.h:.6f}"


@dataclass(frozen=True, slots=True)
class FramePlan:
    """A frame to write: its kind, labels, and the classes a reviewer judged on it.

    ``judged`` are the classes the labels speak for: the detected box's class, what a wrong
    box really is, the classes of added boxes. Objects of other classes in the frame were
    not looked at (a stall reviewer does not box every passer-by): training fills them in
    and the gate does not count them.
    """

    case: ReviewedCase
    kind: FrameKind
    labels: tuple[YoloLabel, ...]
    judged: tuple[str, ...]


def judged_classes(boxes: Sequence[FrameBox]) -> tuple[str, ...]:
    """The classes the reviewer's boxes speak for (see :class:`FramePlan`)."""
    names: set[str] = set()
    for box in boxes:
        names.add(box.class_name)
        if box.really_is is not None and box.really_is in MODEL_CLASSES:
            names.add(box.really_is)
    return tuple(n for n in MODEL_CLASSES if n in names)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A case (or its frame) left out, and why."""

    case_id: int
    camera_id: str
    evidence_sha256: str | None
    reason: str


def yolo_labels(boxes: Sequence[FrameBox], names: Sequence[str] = MODEL_CLASSES) -> list[YoloLabel]:
    """The labels of ``boxes`` (wrong ones dropped or relabelled).

    Raises:
        ValueError: A box's class is not one of ``names``.
    """
    out = []
    for box in boxes:
        label = box.label
        if label is None:
            continue
        if label not in names:
            raise ValueError(f"box {box.box_id} is {label!r}, not one of {', '.join(names)}")
        b = box.box
        out.append(
            YoloLabel(
                names.index(label), (b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2, b.x2 - b.x1, b.y2 - b.y1
            )
        )
    return out


def plan_case(case: ReviewedCase) -> FramePlan | Skipped:
    """What ``case`` gives: a frame with labels, or why nothing."""

    def skip(reason: str) -> Skipped:
        return Skipped(case.case_id, case.camera_id, case.frame_sha256, reason)

    if case.frame_sha256 is None:
        return skip("the case has no clean frame (evidence kind 'frame')")
    if case.outcome == "confirmed":
        kind = FrameKind.POSITIVE
    elif case.outcome != "rejected":
        return skip(f"not finally reviewed ({case.outcome})")
    elif case.reason_code is None:
        return skip("rejected with free text only: nothing says what was wrong")
    elif case.reason_code == ReasonCode.DUPLICATE:
        return skip(f"duplicate of case {case.duplicate_of}")
    elif case.reason_code == ReasonCode.EVIDENCE_UNUSABLE:
        return skip("the reviewer found the evidence unusable")
    elif case.reason_code == ReasonCode.WRONG_OBJECT:
        kind = FrameKind.HARD_NEGATIVE
    else:  # not_a_violation, wrong_place: the objects were seen right
        kind = FrameKind.POSITIVE
    try:
        labels = yolo_labels(case.boxes)
    except ValueError as exc:
        return skip(str(exc))
    return FramePlan(case, kind, tuple(labels), judged_classes(case.boxes))


@dataclass(frozen=True, slots=True)
class SplitPolicy:
    """How frames are split: time blocks per camera, and the share of groups per split."""

    block_hours: float = 24.0
    val_fraction: float = 0.15
    test_fraction: float = 0.15

    def __post_init__(self) -> None:
        if self.block_hours <= 0:
            raise ValueError("block_hours must be positive")
        if not (self.val_fraction >= 0 and self.test_fraction >= 0):
            raise ValueError("split fractions must not be negative")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction + test_fraction must stay below 1")

    def group(self, camera_id: str, first_seen: datetime) -> str:
        """The camera and time block a frame belongs to (``cam-1@19844``)."""
        block = int(first_seen.timestamp() // (self.block_hours * 3600))
        return f"{camera_id}@{block}"

    def split_of(self, group: str) -> Split:
        """The group's split, from a hash of its name (stable across exports)."""
        digest = hashlib.sha256(group.encode("utf-8")).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        if u < self.test_fraction:
            return Split.TEST
        if u < self.test_fraction + self.val_fraction:
            return Split.VAL
        return Split.TRAIN


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


@dataclass(slots=True)
class Folder:
    """Folds near-duplicate frames of one camera into the first kept one (in feed order)."""

    max_bits: int = NEAR_DUPLICATE_BITS
    _kept: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    def fold(self, camera_id: str, case_id: int, dhash: int) -> tuple[int, int] | None:
        """``(kept case id, distance)`` if the frame duplicates a kept one; else keep it."""
        kept = self._kept.setdefault(camera_id, [])
        for other_case, other_hash in kept:
            distance = hamming(dhash, other_hash)
            if distance <= self.max_bits:
                return other_case, distance
        kept.append((case_id, dhash))
        return None
