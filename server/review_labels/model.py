"""The pure part of review labels: reasons, boxes, and folding box edits into current boxes.

Boxes are in normalised image coordinates (0..1, origin top-left) of the case's clean frame,
the frame the edge captured at the event's start (evidence kind ``frame``). The detected box
is the start event's box (id ``detected``); each added box gets the id ``added-<row id>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from zones.objects import KNOWN_OBJECTS

MODEL_CLASSES: tuple[str, ...] = KNOWN_OBJECTS
"""The street detector's classes in class-id order (``zones.objects.KNOWN_OBJECTS``, the
registry's ``classes``): a reviewer adds boxes of these and says which of them a wrong box
really is; the dataset export writes them as the YOLO ``names`` (training checks them)."""

BACKGROUND = "background"
"""What a wrong box really is when it is none of the classes: the box is dropped."""

DETECTED_BOX = "detected"
"""The id of the box the model found (the start event's box)."""


class ReasonCode(StrEnum):
    """Why a reviewer rejects (or escalates) a case, in words a model can learn from."""

    NOT_A_VIOLATION = "not_a_violation"  # the object is right; the situation is lawful
    WRONG_OBJECT = "wrong_object"  # the box is not what the model said
    WRONG_PLACE = "wrong_place"  # the zone is drawn badly
    DUPLICATE = "duplicate"  # another case already covers it
    EVIDENCE_UNUSABLE = "evidence_unusable"  # the frame shows nothing usable


class NotViolationDetail(StrEnum):
    """Why a correctly seen object is no violation."""

    LAWFUL = "lawful"
    LICENSED = "licensed"
    WRONG_HOURS = "wrong_hours"


class BoxAction(StrEnum):
    """One edit of a case frame's boxes."""

    ADD = "add"  # a missed object: box and class
    FIX = "fix"  # a box moved or resized (new coordinates)
    WRONG = "wrong"  # the box is not what the model said (optionally: what it is)


class LabelBox(BaseModel):
    """A box in normalised coordinates of the clean frame; inside the image, positive size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x1: float = Field(description="Left edge, 0..1 of the image width.")
    y1: float = Field(description="Top edge, 0..1 of the image height.")
    x2: float = Field(description="Right edge, 0..1 of the image width.")
    y2: float = Field(description="Bottom edge, 0..1 of the image height.")

    @model_validator(mode="after")
    def _inside_and_positive(self) -> LabelBox:
        for name in ("x1", "y1", "x2", "y2"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"box {name}={value} lies outside the image (coordinates are 0..1 of "
                    "the image size)"
                )
        if self.x2 <= self.x1 or self.y2 <= self.y1:
            raise ValueError(
                f"box has no positive size: x1={self.x1} x2={self.x2} y1={self.y1} "
                f"y2={self.y2} (need x1 < x2 and y1 < y2)"
            )
        return self


def _known_class(name: str, *, background: bool) -> str:
    allowed = (*MODEL_CLASSES, BACKGROUND) if background else MODEL_CLASSES
    if name not in allowed:
        raise ValueError(f"unknown class {name!r}; one of: {', '.join(allowed)}")
    return name


class StructuredReason(BaseModel):
    """The structured reason of a verdict (what a model can learn from)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    code: ReasonCode = Field(description="Why, as a code.")
    detail: NotViolationDetail | None = Field(
        default=None, description="not_a_violation only: lawful, licensed or wrong_hours."
    )
    box_id: str | None = Field(
        default=None,
        max_length=32,
        description="wrong_object only: which box is wrong ('detected' or 'added-N').",
    )
    really_is: str | None = Field(
        default=None,
        max_length=64,
        description="wrong_object only, optional: one of the model's classes or 'background'.",
    )
    duplicate_of: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="duplicate only: the case it duplicates."
    )

    @model_validator(mode="after")
    def _fields_of_code(self) -> StructuredReason:
        code = self.code
        if (self.detail is not None) != (code is ReasonCode.NOT_A_VIOLATION):
            raise ValueError("detail (lawful, licensed, wrong_hours) goes with not_a_violation")
        if code is ReasonCode.WRONG_OBJECT:
            if not self.box_id:
                raise ValueError("wrong_object needs box_id: which box is wrong")
            if self.really_is is not None:
                _known_class(self.really_is, background=True)
        elif self.box_id is not None or self.really_is is not None:
            raise ValueError("box_id and really_is go with wrong_object")
        if (self.duplicate_of is not None) != (code is ReasonCode.DUPLICATE):
            raise ValueError("duplicate_of (a case id) goes with duplicate")
        return self

    def summary(self) -> str:
        """The reason as one line of text (the case's ``review_reason`` when none is typed)."""
        if self.code is ReasonCode.NOT_A_VIOLATION:
            return f"not_a_violation: {self.detail}"
        if self.code is ReasonCode.WRONG_OBJECT:
            what = f" (really {self.really_is})" if self.really_is else ""
            return f"wrong_object: box {self.box_id}{what}"
        if self.code is ReasonCode.DUPLICATE:
            return f"duplicate of case {self.duplicate_of}"
        return self.code.value


class BoxEdit(BaseModel):
    """A reviewer's edit of the frame's boxes: fix a box, or add a missed object."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    action: BoxAction = Field(description="fix (new coordinates of box_id) or add (box + class).")
    box_id: str | None = Field(default=None, max_length=32, description="fix: the box moved.")
    box: LabelBox
    class_name: str | None = Field(
        default=None, max_length=64, description="add: the object's class (a model class)."
    )

    @model_validator(mode="after")
    def _fields_of_action(self) -> BoxEdit:
        if self.action is BoxAction.WRONG:
            raise ValueError("mark a wrong box with a reject verdict, reason wrong_object")
        if self.action is BoxAction.FIX:
            if not self.box_id:
                raise ValueError("fix needs box_id: which box is moved")
            if self.class_name is not None:
                raise ValueError("fix moves a box; class_name goes with add")
        else:
            if self.box_id is not None:
                raise ValueError("add makes a new box; box_id goes with fix")
            if self.class_name is None:
                raise ValueError("add needs class_name: what the missed object is")
            _known_class(self.class_name, background=False)
        return self


@dataclass(frozen=True, slots=True)
class BoxOp:
    """One stored box edit (a row of ``label_boxes``), in the order it was made."""

    op_id: int
    action: BoxAction
    box_id: str
    box: LabelBox | None
    class_name: str | None


@dataclass(frozen=True, slots=True)
class FrameBox:
    """A box of the clean frame as it stands after every edit.

    Attributes:
        box_id: ``detected`` or ``added-<row id>``.
        origin: ``detected`` (the model's) or ``added`` (a reviewer's).
        class_name: The class it was detected or added as.
        box: Its coordinates (as corrected).
        fixed: A reviewer moved it.
        wrong: A reviewer said it is not ``class_name``.
        really_is: What it is instead (a class or ``background``), when said.
    """

    box_id: str
    origin: str
    class_name: str
    box: LabelBox
    fixed: bool = False
    wrong: bool = False
    really_is: str | None = None

    @property
    def label(self) -> str | None:
        """The class to train on: the corrected class, or ``None`` (no label: background)."""
        if not self.wrong:
            return self.class_name
        if self.really_is is None or self.really_is == BACKGROUND:
            return None
        return self.really_is


class UnknownBoxError(ValueError):
    """An edit names a box the frame does not have."""


def added_box_id(op_id: int) -> str:
    return f"added-{op_id}"


def current_boxes(detected: FrameBox | None, ops: Sequence[BoxOp]) -> list[FrameBox]:
    """The frame's boxes after applying ``ops`` in order (later edits win).

    Raises:
        UnknownBoxError: An edit names a box that does not exist at that point.
    """
    boxes: dict[str, FrameBox] = {}
    if detected is not None:
        boxes[detected.box_id] = detected
    for op in ops:
        if op.action is BoxAction.ADD:
            if op.box is None or op.class_name is None:
                raise ValueError(f"add {op.op_id} lacks its box or class")
            box_id = added_box_id(op.op_id)
            boxes[box_id] = FrameBox(box_id, "added", op.class_name, op.box)
            continue
        known = boxes.get(op.box_id)
        if known is None:
            raise UnknownBoxError(unknown_box_message(op.box_id, boxes))
        if op.action is BoxAction.FIX:
            if op.box is None:
                raise ValueError(f"fix {op.op_id} lacks its box")
            boxes[op.box_id] = replace(known, box=op.box, fixed=True)
        else:
            boxes[op.box_id] = replace(known, wrong=True, really_is=op.class_name)
    return list(boxes.values())


def unknown_box_message(box_id: str, boxes: dict[str, FrameBox] | Sequence[FrameBox]) -> str:
    ids = list(boxes) if isinstance(boxes, dict) else [b.box_id for b in boxes]
    return f"no box {box_id!r} on this case's frame; its boxes: {', '.join(ids) or 'none'}"
