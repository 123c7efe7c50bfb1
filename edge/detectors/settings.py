"""Settings every detector plugin shares (pydantic; the ``detector:`` block of the edge config).

Each plugin adds its ``type`` and extras next to its implementation
(:mod:`edge.detectors.plugins`). A field's description is the docstring under it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ProviderName = Literal["cpu", "cuda", "tensorrt"]
"""Short names of the execution providers a config may ask for."""


def _default_providers() -> list[ProviderName]:
    return ["cpu"]


class DetectorConfigBase(BaseModel):
    """Settings every detector plugin shares; each plugin adds its ``type`` and extras."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    type: str
    """Which plugin runs the model."""
    path: Path
    """The ONNX model file."""
    confidence: float = Field(0.25, ge=0.0, le=1.0)
    """Keep detections scoring at least this (after the model's own scoring)."""
    iou: float = Field(0.45, gt=0.0, le=1.0)
    """NMS IoU threshold: a box overlapping a better box of its class by more than this is dropped.
    Boxes of different classes never suppress each other."""
    max_detections: int = Field(300, ge=1, le=10_000)
    """At most this many detections per image."""
    providers: list[ProviderName] = Field(
        default_factory=_default_providers, min_length=1, max_length=3
    )
    """Execution providers in order of preference. A provider that this onnxruntime build lacks
    is skipped with a warning (or refused, see require_providers); the CPU is always the last
    fallback."""
    require_providers: bool = False
    """Refuse to start when a requested provider is unavailable, instead of falling back with a
    warning."""
    intra_op_threads: int = Field(0, ge=0, le=256)
    """Threads onnxruntime uses inside one operator; 0 lets it decide (one per physical core)."""
    intra_op_spinning: bool = False
    """Let idle onnxruntime threads spin-wait for work: slightly lower latency on an idle machine,
    much higher when other processes compete for the cores."""
    max_batch: int = Field(8, ge=1, le=256)
    """Most images in one inference call when cameras share batches (a model exported with a
    dynamic batch axis; a batch-1 model runs one image a call whatever this says). On a GPU,
    larger batches (16 to 32) use it better; on a CPU, 4 to 8."""
    tensorrt_cache_dir: Path | None = None
    """Where the TensorRT provider keeps the engines it builds (one per model and batch range),
    so that a restart reuses them; none: rebuilt at every start."""
    tensorrt_fp16: bool = False
    """Let TensorRT run in half precision (faster; check the accuracy on the real-image table
    first)."""
    warmup_runs: int = Field(1, ge=0, le=20)
    """Inferences on a blank image at start-up."""
    name: str | None = Field(None, min_length=1, max_length=128)
    """Model name recorded in events; default: the metadata key `model_name`, else the file name
    without extension."""
    version: str | None = Field(None, min_length=1, max_length=64)
    """Model version recorded in events; default: the metadata key `model_version`, else
    'unversioned'."""

    @field_validator("providers")
    @classmethod
    def _unique(cls, value: list[ProviderName]) -> list[ProviderName]:
        if len(set(value)) != len(value):
            raise ValueError(f"providers lists one more than once: {value}")
        return value


class NamedClassesConfigBase(DetectorConfigBase):
    """Settings of formats whose file carries no class names (YOLOX, NanoDet, FastestDet)."""

    names_file: Path | None = None
    """Class names, one a line, line number = class id; default: the 80 COCO names (Darknet
    spelling). Must match the model's class count."""
