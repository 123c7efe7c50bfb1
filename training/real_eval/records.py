"""Result records of the real-image evaluation and the pure scoring rules behind them.

Everything here works without data or models, so the rules are unit-tested on their own:

* :func:`per_camera_hour`: a count over analysed clips as a rate per hour of camera time;
* :func:`cover_outcome`: how one truck photo's cover verdict scores against its folder label
  (the **accusation rule**: an *uncovered* verdict on an empty (folder 0), partly covered
  (folder 1) or fully covered (folder 2) truck is a wrong accusation);
* :func:`agreement`: the model's person / car / truck boxes against a COCO teacher's
  high-confidence boxes, one-to-one at IoU 0.5.

:class:`ModelRealReport` holds one model's raw results, :class:`RealSummary` the numbers the
table and the publish gate use.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.types import Detections
from training.detection_metrics import match_predictions

Verdict = Literal["covered", "uncovered"]
"""A cover verdict; ``None`` where there is none (no truck, load region too small, unsure)."""

COVER_FOLDERS: dict[int, str] = {
    0: "empty",
    1: "partly covered",
    2: "fully covered",
    3: "not covered",
}
"""The truck-checkpoint photos' folder labels."""

AGREEMENT_CLASSES: tuple[str, ...] = ("person", "car", "truck")
"""Classes compared with the COCO teacher."""

AGREEMENT_IOU = 0.5
"""A model box agrees with a teacher box of its class at this IoU or more."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def per_camera_hour(count: int, seconds: float) -> float:
    """``count`` events over ``seconds`` of camera time, as a rate per camera-hour.

    Raises:
        ValueError: If ``seconds`` is not positive or ``count`` is negative.

    Example:
        >>> per_camera_hour(3, 90.0)
        120.0
    """
    if seconds <= 0.0:
        raise ValueError(f"camera time must be positive, got {seconds} s")
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    return count * 3600.0 / seconds


class CoverOutcome(_Record):
    """How one truck photo's verdict scores against its folder label."""

    loaded: bool = Field(description="The truck carries a load (folders 1, 2, 3).")
    decided: bool = Field(description="A loaded truck got a verdict.")
    right: bool = Field(description="A decided loaded truck got the verdict of its folder.")
    wrongly_accused: bool = Field(
        description="'uncovered' on an empty, partly or fully covered truck (folders 0, 1, 2)."
    )


def cover_outcome(folder: int, verdict: Verdict | None) -> CoverOutcome:
    """Score one verdict against the photo's folder (0 empty, 1 partly, 2 fully, 3 not covered).

    The right verdict of folder 3 is *uncovered*, of folders 1 and 2 *covered*: a partly
    covered load counts as covered, so calling it uncovered is an accusation the photo does
    not support. An empty truck (folder 0) has no load: it is not counted in *decided*, and
    an *uncovered* verdict on it is a wrong accusation like one on a covered truck.

    Raises:
        ValueError: If ``folder`` is not 0..3.
    """
    if folder not in COVER_FOLDERS:
        raise ValueError(f"unknown cover folder {folder}; expected one of {sorted(COVER_FOLDERS)}")
    loaded = folder != 0
    decided = loaded and verdict is not None
    expected: Verdict = "uncovered" if folder == 3 else "covered"
    return CoverOutcome(
        loaded=loaded,
        decided=decided,
        right=decided and verdict == expected,
        wrongly_accused=verdict == "uncovered" and folder != 3,
    )


class ClassAgreement(_Record):
    """One class's boxes of the model against the teacher's, one-to-one at IoU 0.5."""

    name: str = Field(description="Object class.")
    model_boxes: int = Field(ge=0, description="The model's boxes of the class.")
    teacher_boxes: int = Field(ge=0, description="The teacher's high-confidence boxes.")
    matched: int = Field(ge=0, description="Pairs matched at IoU >= 0.5.")

    def plus(self, other: ClassAgreement) -> ClassAgreement:
        """The counts of both (same class)."""
        if other.name != self.name:
            raise ValueError(f"cannot add agreement of {other.name} to {self.name}")
        return ClassAgreement(
            name=self.name,
            model_boxes=self.model_boxes + other.model_boxes,
            teacher_boxes=self.teacher_boxes + other.teacher_boxes,
            matched=self.matched + other.matched,
        )


def agreement(
    model: Detections, teacher: Detections, classes: tuple[str, ...] = AGREEMENT_CLASSES
) -> list[ClassAgreement]:
    """Match the model's boxes to the teacher's, per class, greedily by model confidence.

    Both must carry the same class names (label-mapped object names). A model box matches
    the best-overlapping teacher box of its class not taken by a more confident model box,
    if their IoU is at least :data:`AGREEMENT_IOU` (COCO's rule).

    Raises:
        ValueError: If the two carry different class names, or a class is not among them.
    """
    if model.names != teacher.names:
        raise ValueError(f"model classes {model.names} differ from the teacher's {teacher.names}")
    out = []
    for name in classes:
        if name not in model.names:
            raise ValueError(f"class {name!r} is not among {model.names}")
        cid = model.names.index(name)
        mine = model[model.class_id == cid]
        theirs = teacher[teacher.class_id == cid]
        hits = match_predictions(mine, theirs, np.array([AGREEMENT_IOU]))
        out.append(
            ClassAgreement(
                name=name,
                model_boxes=len(mine),
                teacher_boxes=len(theirs),
                matched=int(hits.sum()),
            )
        )
    return out


class ClipResult(_Record):
    """False stall / goods boxes of one model on one real clip that shows neither."""

    file: str = Field(description="Clip, relative to the shared data folder.")
    frames: int = Field(ge=1, description="Frames analysed.")
    seconds: float = Field(
        gt=0.0, description="Camera time those frames cover: the last one's time plus one interval."
    )
    false_frames: int = Field(ge=0, description="Analysed frames with a stall or goods box.")
    false_boxes: int = Field(ge=0, description="Stall and goods boxes on all analysed frames.")
    tracked_false_boxes: int = Field(
        ge=0, description="Of those, boxes on confirmed tracks (what rules can turn into cases)."
    )


class TruckPhotoResult(_Record):
    """One model's truck and cover verdict on one real checkpoint photo."""

    file: str = Field(description="Photo, relative to the shared data folder.")
    folder: int = Field(ge=0, le=3, description="Cover label (0 empty .. 3 not covered).")
    truck_confidence: float | None = Field(
        ge=0.0, le=1.0, description="Score of the largest truck box; None: no truck found."
    )
    p_uncovered: float | None = Field(
        ge=0.0, le=1.0, description="Cover classifier on its load region; None: not classified."
    )
    verdict: Verdict | None = Field(description="The vote of that probability, if any.")

    @property
    def outcome(self) -> CoverOutcome:
        """The verdict scored against the folder."""
        return cover_outcome(self.folder, self.verdict)


class PhotoResult(_Record):
    """Which ground classes one model found on one described real photo."""

    file: str = Field(description="Photo, relative to the shared data folder.")
    shows: list[str] = Field(description="Classes the photo shows (real_footage.yaml present).")
    free_of: list[str] = Field(
        description="Of stall / goods, those it neither shows nor arguably shows."
    )
    found: list[str] = Field(description="Classes the model put a box on.")


class ModelRealReport(_Record):
    """Everything one model did on the real data."""

    model: str = Field(description="Model label in the table.")
    file: str = Field(description="Model file.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Its SHA-256.")
    teacher: bool = Field(description="This is the COCO teacher itself (no agreement column).")
    has_bare_soil: bool = Field(description="The model (after its label map) can say bare soil.")
    clips: list[ClipResult] = Field(description="No-violation clips.")
    trucks: list[TruckPhotoResult] = Field(description="Truck checkpoint photos.")
    photos: list[PhotoResult] = Field(description="Described real photos.")
    agreement: list[ClassAgreement] = Field(description="Per class; empty for the teacher.")
    ms_per_frame: float = Field(ge=0.0, description="Mean detector + label map time per frame.")


class RealSummary(_Record):
    """The numbers of one model's row of the real table (what the publish gate compares)."""

    model: str = Field(description="Model label.")
    clip_frames: int = Field(ge=0, description="Analysed frames of the no-violation clips.")
    clip_seconds: float = Field(ge=0.0, description="Camera time they cover.")
    false_frames: int = Field(ge=0, description="Of them, frames with a stall or goods box.")
    false_boxes: int = Field(ge=0, description="Stall and goods boxes on them.")
    trucks: int = Field(ge=0, description="Truck photos.")
    trucks_found: int = Field(ge=0, description="Truck photos with a truck box.")
    loaded: int = Field(ge=0, description="Truck photos of loaded trucks (folders 1-3).")
    decided: int = Field(ge=0, description="Loaded trucks with a cover verdict.")
    right: int = Field(ge=0, description="Decided and right.")
    accusable: int = Field(ge=0, description="Photos of empty or covered trucks (folders 0-2).")
    wrongly_accused: int = Field(ge=0, description="'uncovered' on one of those.")
    stall_photos: int = Field(ge=0, description="Photos that show a stall or goods.")
    stall_found: int = Field(ge=0, description="Of those, with a stall or goods box.")
    soil_photos: int = Field(ge=0, description="Photos that show bare soil.")
    soil_found: int | None = Field(
        ge=0, description="Of those, with a bare-soil box; None: the model has no such class."
    )
    clean_photos: int = Field(ge=0, description="Photos that show no stall and no goods.")
    clean_false: int = Field(ge=0, description="Of those, with a stall or goods box.")
    agreement: list[ClassAgreement] = Field(description="Summed over the real frames.")
    ms_per_frame: float = Field(ge=0.0, description="Mean detector time per frame, ms.")

    @property
    def false_share(self) -> float:
        """Share of analysed clip frames with a false stall / goods box (0 without frames)."""
        return self.false_frames / self.clip_frames if self.clip_frames else 0.0

    @property
    def false_per_hour(self) -> float:
        """False stall / goods boxes per camera-hour at the analysis rate."""
        return per_camera_hour(self.false_boxes, self.clip_seconds) if self.clip_seconds else 0.0


def summarize(report: ModelRealReport) -> RealSummary:
    """The table row of one model's results."""
    outcomes = [t.outcome for t in report.trucks]
    stall_goods = {"stall", "goods"}
    showing = [p for p in report.photos if stall_goods & set(p.shows)]
    soil = [p for p in report.photos if "bare_soil" in p.shows]
    clean = [p for p in report.photos if stall_goods <= set(p.free_of)]
    totals: dict[str, ClassAgreement] = {}
    for a in report.agreement:
        totals[a.name] = totals[a.name].plus(a) if a.name in totals else a
    return RealSummary(
        model=report.model,
        clip_frames=sum(c.frames for c in report.clips),
        clip_seconds=sum(c.seconds for c in report.clips),
        false_frames=sum(c.false_frames for c in report.clips),
        false_boxes=sum(c.false_boxes for c in report.clips),
        trucks=len(report.trucks),
        trucks_found=sum(t.truck_confidence is not None for t in report.trucks),
        loaded=sum(o.loaded for o in outcomes),
        decided=sum(o.decided for o in outcomes),
        right=sum(o.right for o in outcomes),
        accusable=sum(t.folder != 3 for t in report.trucks),
        wrongly_accused=sum(o.wrongly_accused for o in outcomes),
        stall_photos=len(showing),
        stall_found=sum(bool(stall_goods & set(p.found)) for p in showing),
        soil_photos=len(soil),
        soil_found=(sum("bare_soil" in p.found for p in soil) if report.has_bare_soil else None),
        clean_photos=len(clean),
        clean_false=sum(bool(stall_goods & set(p.found)) for p in clean),
        agreement=list(totals.values()),
        ms_per_frame=report.ms_per_frame,
    )
