"""Settings of the optional plate reader (``rules.muck_truck.plate_reader`` in the edge config).

The plate models are third-party (GPL-3.0 upstream) and never shipped: an operator installs
the two ONNX files and lists each with its SHA-256 here, so the edge loads exactly the files
that were checked. This module is plain pydantic and imports nothing else of the edge, so the
rule settings can embed it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class PlateModelFile(_Settings):
    """One installed plate model file and the SHA-256 it must have."""

    path: Path
    """The ``.onnx`` file (relative paths resolve from the directory civicwatch starts in)."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """SHA-256 of the file, lower-case hex; a file with another hash is refused."""


class PlateReaderSettings(_Settings):
    """The plate detector and recogniser, and how they are used on a truck case."""

    detector: PlateModelFile
    """The 4-corner plate detector (``plate_detect.onnx``: 640x640 input, single / double row)."""
    recogniser: PlateModelFile
    """The CTC plate recogniser with colour head (``plate_rec.onnx``: 48x168 input)."""
    min_score: float = Field(0.3, gt=0.0, lt=1.0, allow_inf_nan=False)
    """Least detection score (object times class) of a plate."""
    iou: float = Field(0.5, gt=0.0, le=1.0, allow_inf_nan=False)
    """Plates overlapping a better one by more than this (intersection over union) are dropped."""
    min_confidence: float = Field(0.5, ge=0.0, lt=1.0, allow_inf_nan=False)
    """A reading counts only from this confidence (its least sure character's probability times
    the detection score) and with the form of a Chinese plate: a wrong plate on a case is worse
    than none."""
    frames: int = Field(3, ge=1, le=10)
    """A truck case reads the plate on up to this many of the truck's best frames and takes the
    text most of them agree on."""
    threads: int = Field(1, ge=1, le=16)
    """Intra-op threads of each model's onnxruntime session."""
