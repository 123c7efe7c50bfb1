"""Tracker settings (pydantic; the ``tracker:`` block of the edge config).

``type`` picks the tracker (:data:`TrackerSettings`); ``configs/rules.md`` documents every
field with its default. Each field's description is the docstring under it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StationarySettings(BaseModel):
    """When a track counts as stationary."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    after_s: float = Field(10.0, ge=0.0, le=3600.0)
    """Seconds a track must stay put before it is stationary."""
    max_shift: float = Field(0.25, gt=0.0, le=2.0)
    """Staying put: the box centre moves at most this fraction of the box size (mean of width
    and height) from where it settled."""


class _TrackerSettingsBase(BaseModel):
    """What both trackers' settings share."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    stationary: StationarySettings = Field(default_factory=StationarySettings)
    """When a track counts as stationary."""


class SimpleTrackerSettings(_TrackerSettingsBase):
    """Settings of :class:`edge.tracking.SimpleTracker`."""

    type: Literal["simple"] = "simple"
    """Tracker kind; selects the implementation."""
    iou_threshold: float = Field(0.3, gt=0.0, le=1.0)
    """Least IoU between a track's last box and a detection to associate them."""
    centroid_max_dist: float = Field(0.5, ge=0.0, le=10.0)
    """Fallback for detections without enough overlap: the largest distance between box
    centres, as a multiple of the track box's diagonal; 0 disables it."""
    max_missed: int = Field(5, ge=0, le=10_000)
    """Analysed frames a track may go without a detection before it dies."""


class ByteTrackSettings(_TrackerSettingsBase):
    """Settings of :class:`edge.tracking.ByteTracker`.

    The score thresholds are lower than ByteTrack's (0.5 / 0.6, tuned for a well-calibrated
    COCO YOLOX): the project's street model gives true stalls and goods 0.3 to 0.7, and a
    track that never starts is an object no rule sees. Raise them for a more confident
    detector. The detector's own ``confidence`` should be at most ``low_score``.
    """

    type: Literal["bytetrack"] = "bytetrack"
    """Tracker kind; selects the implementation."""
    high_score: float = Field(0.3, gt=0.0, le=1.0)
    """Detections scoring at least this are associated first and may start tracks."""
    low_score: float = Field(0.1, ge=0.0, le=1.0)
    """Detections scoring from this up to high_score only continue tracks (the second
    association); lower ones are ignored. Set the detector's confidence this low for the
    second stage to see anything."""
    new_track_score: float = Field(0.35, gt=0.0, le=1.0)
    """An unmatched detection starts a new (tentative) track from this score."""
    match_iou: float = Field(0.2, gt=0.0, le=1.0)
    """Least IoU between a track's predicted box and a confident detection."""
    low_match_iou: float = Field(0.5, gt=0.0, le=1.0)
    """Least IoU for the second association (low-scoring detections)."""
    tentative_match_iou: float = Field(0.3, gt=0.0, le=1.0)
    """Least IoU to confirm a tentative track with a detection of the next frame."""
    centroid_max_dist: float = Field(1.0, ge=0.0, le=10.0)
    """Fallback for tracks and confident detections still unmatched: the largest distance
    between the predicted and the detected box centre, as a multiple of the predicted box's
    diagonal; 0 disables it."""
    max_missed: int = Field(10, ge=0, le=10_000)
    """Analysed frames a moving track may go without a detection before it dies (ByteTrack's
    track buffer)."""
    reverify_every: int = Field(20, ge=1, le=100_000)
    """A stationary track is re-verified every this many analysed frames: it survives when
    some detection matched it since the last check, else it ends."""
    class_aware: bool = True
    """Associate only detections of the track's class."""

    @model_validator(mode="after")
    def _ordered_scores(self) -> ByteTrackSettings:
        if not self.low_score <= self.high_score <= self.new_track_score:
            raise ValueError(
                "scores must satisfy low_score <= high_score <= new_track_score, got "
                f"{self.low_score} / {self.high_score} / {self.new_track_score}"
            )
        return self


TrackerSettings = Annotated[ByteTrackSettings | SimpleTrackerSettings, Field(discriminator="type")]
"""Tracker config keyed on ``type`` (``bytetrack`` or ``simple``)."""
