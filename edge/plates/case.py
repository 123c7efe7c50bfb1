"""The plate of one truck case: its best frames kept while it passes, read when the case starts.

The muck-truck rule offers each frame of a truck that votes *uncovered* to the truck's
:class:`TruckViews` (the truck's pixels, box widened); the best few are kept and, when the
truck's case starts, read and voted on (:func:`edge.plates.reader.vote`). The outcome
(:class:`CasePlate`) gives the case's details and the plate's crop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from edge.plates.reader import PlateReader, PlateVote, truck_region, vote
from edge.types import ImageArray

logger = logging.getLogger(__name__)

PLATE_READ = "read"
"""``plate_status`` of a case whose plate was read."""
NO_PLATE_READER = "not read (no plate reader configured)"
"""``plate_status`` when ``muck_truck.plate_reader`` is not set."""
PLATE_READER_NOT_LOADED = "not read (the configured plate reader did not load; see the edge log)"
"""``plate_status`` when a plate reader is configured but did not load."""


@dataclass(frozen=True, slots=True)
class CasePlate:
    """What a truck case says about its plate.

    Attributes:
        status: ``read``, or ``not read (why)``.
        result: The vote over the frames read (``None`` when not read).
        captured_at: When the frame of the winning reading was captured.
    """

    status: str
    result: PlateVote | None = None
    captured_at: datetime | None = None

    def __post_init__(self) -> None:
        if (self.status == PLATE_READ) != (self.result is not None):
            raise ValueError(f"status {self.status!r} and result disagree")
        if self.result is not None and self.captured_at is None:
            raise ValueError("a plate read needs the time of its frame")

    @property
    def details(self) -> dict[str, str | float]:
        """The case's plate details: ``plate_status``, and when read ``plate``,
        ``plate_colour``, ``plate_confidence`` and ``plate_frames`` (``2/3``: frames that
        agree of frames read)."""
        if self.result is None:
            return {"plate_status": self.status}
        reading = self.result.reading
        return {
            "plate_status": self.status,
            "plate": reading.text,
            "plate_colour": reading.colour,
            "plate_confidence": round(reading.confidence, 3),
            "plate_frames": f"{self.result.agree}/{self.result.frames}",
        }

    @property
    def crop(self) -> ImageArray | None:
        """The plate's pixels (evidence), when it was read."""
        return self.result.reading.crop if self.result is not None else None


@dataclass(frozen=True, slots=True, eq=False)
class _View:
    score: float
    captured_at: datetime
    image: ImageArray


@dataclass(slots=True, eq=False)
class TruckViews:
    """The best frames of one truck, kept for reading its plate.

    Attributes:
        limit: How many to keep (``plate_reader.frames``).
    """

    limit: int
    _views: list[_View] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")

    def __len__(self) -> int:
        return len(self._views)

    def offer(
        self, score: float, captured_at: datetime, image: ImageArray, xyxy: npt.ArrayLike
    ) -> None:
        """Keep the truck's pixels of this frame if ``score`` is among the ``limit`` best.

        Args:
            score: How good the frame is (higher is better).
            captured_at: When it was captured.
            image: The whole BGR frame.
            xyxy: The truck's box in it.
        """
        if len(self._views) >= self.limit and score <= self._views[-1].score:
            return
        wh = (int(image.shape[1]), int(image.shape[0]))
        left, top, right, bottom = truck_region(xyxy, wh)
        if right <= left or bottom <= top:
            return
        pixels = np.ascontiguousarray(image[top:bottom, left:right])
        self._views.append(_View(score, captured_at, pixels))
        self._views.sort(key=lambda v: -v.score)
        del self._views[self.limit :]

    def read(self, reader: PlateReader) -> CasePlate:
        """Read every kept frame, vote, and forget the frames."""
        views, self._views = self._views, []
        readings = [reader.read(v.image) for v in views]
        result = vote(readings)
        if result is None:
            return CasePlate(f"not read (no plate found in {len(views)} frame(s))")
        at = next(
            v.captured_at for v, r in zip(views, readings, strict=True) if r is result.reading
        )
        return CasePlate(PLATE_READ, result, at)
