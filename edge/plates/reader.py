"""Reading a truck's plate: find the plate in the truck's box, warp it upright, read it.

:class:`PlateReader` joins the detector (:mod:`edge.plates.detector`) and the recogniser
(:mod:`edge.plates.recogniser`); :func:`vote` picks one reading from several frames of the
same truck. Both models are optional, third-party and installed by the operator (see
:class:`~edge.plates.settings.PlateReaderSettings`).

Example:
    >>> reader = PlateReader.from_settings(settings)  # doctest: +SKIP
    >>> reading = reader.read(frame.image, truck_xyxy)  # doctest: +SKIP
    >>> reading.text, reading.colour  # doctest: +SKIP
    ('京EA5331', 'yellow')
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.plates.detector import PlateDetection, PlateDetector
from edge.plates.recogniser import PlateRecogniser, warp_plate
from edge.plates.settings import PlateReaderSettings
from edge.types import FloatArray, ImageArray

logger = logging.getLogger(__name__)

TRUCK_PAD = 0.1
"""The truck's box is widened by this fraction of its size on every side before the plate is
looked for (a plate sits at the box's lower edge, which a detector's box may cut)."""
CROP_MARGIN = 0.25
"""The evidence crop reaches this fraction of the plate's size beyond its corners."""
CANDIDATES = 3
"""At most this many detected plates per image are read; the surest reading wins."""
PROVINCES = "京沪津渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新"
"""The first character of a civil plate."""
PLATE_FORM = re.compile(rf"^[{PROVINCES}][A-Z](?:[0-9A-Z]{{5,6}}|[0-9A-Z]{{4}}[挂学警港澳领使])$")
"""A civil Chinese plate: province, issuing-office letter, then five characters (six on a
new-energy plate), or four and a kind (trailer 挂, driving school 学, police 警, Hong Kong /
Macau 港澳, consulate 领, embassy 使)."""


def plausible(text: str) -> bool:
    """Whether ``text`` has the form of a civil Chinese plate (:data:`PLATE_FORM`).

    Example:
        >>> plausible("京EA5331"), plausible("沪A1707领"), plausible("A71113")
        (True, True, False)
    """
    return PLATE_FORM.match(text) is not None


@dataclass(frozen=True, slots=True, eq=False)
class PlateReading:
    """One plate read in one image.

    Attributes:
        text: The plate's characters (``京EA5331``); never empty.
        colour: ``black``, ``blue``, ``green``, ``white`` or ``yellow``.
        confidence: The least sure character's probability times the detection score, 0..1.
        corners: ``(4, 2)`` float32 corners in the image's pixels (top-left, top-right,
            bottom-right, bottom-left).
        double_row: Whether the detector called it a double-row plate.
        crop: BGR pixels of the image around the plate (evidence).
        upright: The plate warped upright, as the recogniser read it (before stitching).
    """

    text: str
    colour: str
    confidence: float
    corners: FloatArray
    double_row: bool
    crop: ImageArray
    upright: ImageArray

    def __post_init__(self) -> None:
        if not self.text:
            raise ValueError("a plate reading needs text")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in 0..1, got {self.confidence}")
        if self.corners.shape != (4, 2):
            raise ValueError(f"corners must be (4, 2), got {self.corners.shape}")


def truck_region(xyxy: npt.ArrayLike, image_wh: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where a truck's plate is looked for: its box widened by :data:`TRUCK_PAD`, in whole
    pixels, clipped to the image (``left, top, right, bottom``).

    Example:
        >>> truck_region([100, 100, 300, 200], (320, 240))
        (80, 90, 320, 210)
    """
    return _clip_box(xyxy, TRUCK_PAD, image_wh)


def _clip_box(
    xyxy: npt.ArrayLike, pad: float, image_wh: tuple[int, int]
) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (float(v) for v in np.asarray(xyxy, dtype=np.float64).reshape(4))
    dx, dy = pad * max(x2 - x1, 0.0), pad * max(y2 - y1, 0.0)
    w, h = image_wh
    return (
        max(0, int(np.floor(x1 - dx))),
        max(0, int(np.floor(y1 - dy))),
        min(w, int(np.ceil(x2 + dx))),
        min(h, int(np.ceil(y2 + dy))),
    )


class PlateReader:
    """Finds and reads the plate in (a truck's box of) an image.

    Args:
        detector: The 4-corner plate detector.
        recogniser: The CTC recogniser.
        min_confidence: Readings below this confidence, or without the form of a plate
            (:func:`plausible`), are not returned.
    """

    def __init__(
        self, detector: PlateDetector, recogniser: PlateRecogniser, *, min_confidence: float = 0.5
    ) -> None:
        self.detector = detector
        self.recogniser = recogniser
        self.min_confidence = min_confidence

    @classmethod
    def from_settings(cls, settings: PlateReaderSettings) -> PlateReader:
        """Load both models, each after checking its SHA-256.

        Raises:
            PlateModelError: If a file is missing, not the listed file, or not of the
                expected form.
        """
        detector = PlateDetector(
            settings.detector,
            min_score=settings.min_score,
            iou=settings.iou,
            threads=settings.threads,
        )
        recogniser = PlateRecogniser(settings.recogniser, threads=settings.threads)
        return cls(detector, recogniser, min_confidence=settings.min_confidence)

    def read(
        self, image: ImageArray, truck_box: npt.ArrayLike | None = None
    ) -> PlateReading | None:
        """The surest plate reading in ``truck_box`` (the whole image when ``None``).

        Args:
            image: BGR ``uint8`` image.
            truck_box: The truck's box in the image's pixels.

        Returns:
            The reading, or ``None`` when no plate is found or none reads as a plate with at
            least ``min_confidence``.

        Raises:
            ValueError: If ``image`` is not HxWx3 uint8.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be HxWx3 uint8, got {image.shape} {image.dtype}")
        wh = (int(image.shape[1]), int(image.shape[0]))
        left, top, right, bottom = (0, 0, *wh) if truck_box is None else truck_region(truck_box, wh)
        if right - left < 8 or bottom - top < 8:
            return None
        found = self.detector.detect(np.ascontiguousarray(image[top:bottom, left:right]))
        best: PlateReading | None = None
        for plate in found[:CANDIDATES]:
            reading = self._read_one(image, plate.shifted(left, top), wh)
            if reading is not None and (best is None or reading.confidence > best.confidence):
                best = reading
        return best

    def _read_one(
        self, image: ImageArray, plate: PlateDetection, wh: tuple[int, int]
    ) -> PlateReading | None:
        upright = warp_plate(image, plate.corners)
        if upright.shape[0] < 3:
            return None
        result = self.recogniser.recognise(upright, double_row=plate.double_row)
        confidence = result.confidence * plate.score
        if not plausible(result.text) or confidence < self.min_confidence:
            logger.debug("plate read as %r at confidence %.2f: not taken", result.text, confidence)
            return None
        left, top, right, bottom = _clip_box(plate.xyxy, CROP_MARGIN, wh)
        return PlateReading(
            text=result.text,
            colour=result.colour,
            confidence=confidence,
            corners=plate.corners,
            double_row=plate.double_row,
            crop=np.ascontiguousarray(image[top:bottom, left:right]),
            upright=upright,
        )


@dataclass(frozen=True, slots=True, eq=False)
class PlateVote:
    """The reading several frames agree on.

    Attributes:
        reading: The surest reading of the winning text.
        agree: How many frames read that text.
        frames: How many frames were read (including those that found no plate).
    """

    reading: PlateReading
    agree: int
    frames: int


def vote(readings: Sequence[PlateReading | None]) -> PlateVote | None:
    """The text most frames read (ties: the larger summed confidence), with its surest reading.

    Args:
        readings: One entry per frame read; ``None`` where no plate was read.

    Returns:
        The vote, or ``None`` when no frame read a plate.
    """
    by_text: dict[str, list[PlateReading]] = defaultdict(list)
    for reading in readings:
        if reading is not None:
            by_text[reading.text].append(reading)
    if not by_text:
        return None
    group = max(by_text.values(), key=lambda g: (len(g), sum(r.confidence for r in g)))
    surest = max(group, key=lambda r: r.confidence)
    return PlateVote(reading=surest, agree=len(group), frames=len(readings))
