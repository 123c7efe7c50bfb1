"""The real plate models and photos in ``../shared/data``, for tests marked ``shared_data``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict

from edge.plates import PlateModelFile, PlateReaderSettings
from edge.types import ImageArray

TRUTH = Path(__file__).with_name("plates_truth.yaml")
"""By-eye plate truth of the real photos (file names and text only)."""


def model_file(shared: Path, name: str) -> PlateModelFile:
    """``weights/plates/<name>`` with its real SHA-256."""
    path = shared / "weights" / "plates" / name
    return PlateModelFile(path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def reader_settings(shared: Path, recogniser: str = "plate_rec.onnx") -> PlateReaderSettings:
    """Plate reader settings naming the shared models (defaults otherwise)."""
    return PlateReaderSettings(
        detector=model_file(shared, "plate_detect.onnx"),
        recogniser=model_file(shared, recogniser),
    )


def photo(shared: Path, relative: str) -> ImageArray:
    """A shared photo as BGR."""
    image = cv2.imread(str(shared / relative))
    assert image is not None, f"cannot read {shared / relative}"
    return np.ascontiguousarray(image, dtype=np.uint8)


class TruthPhoto(BaseModel):
    """One photo of the truth file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    plate: str | None
    colour: str | None = None
    how: str


class Truth(BaseModel):
    """The truth file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    photos: list[TruthPhoto]


def load_truth() -> Truth:
    """The plate truth of the real photos."""
    return Truth.model_validate(yaml.safe_load(TRUTH.read_text(encoding="utf-8")))
