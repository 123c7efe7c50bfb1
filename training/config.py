"""The training configuration (``configs/train.yaml``).

Relative paths in the file are resolved against the project root of the file: the nearest
folder holding ``pyproject.toml`` at or above it (a checkout), or the current directory where
there is none (a config beside an installed wheel). So the same file works from any working
directory. The default file is the packaged ``configs/train.yaml`` (``civicwatch.configs``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.yamlconfig import ConfigError as YamlConfigError
from contracts.yamlconfig import load_yaml_model
from edge.registry import package_file
from training.scenes.classes import CLASSES


def project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds ``pyproject.toml``.

    Args:
        start: A file or folder inside the project.

    Returns:
        That folder, or the current directory when no folder above ``start`` has one.
    """
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return Path.cwd()


DEFAULT_CONFIG = package_file("civicwatch.configs", "train.yaml")
"""The packaged training configuration (in an editable install, the checkout's own file)."""

REPO_ROOT = project_root(DEFAULT_CONFIG)
"""The project root of :data:`DEFAULT_CONFIG` (the checkout, in an editable install)."""


class ConfigError(YamlConfigError):
    """The training configuration file is missing or invalid.

    Every problem is a ``file:line: message`` line (unknown keys with a did-you-mean).
    """


class DatasetConfig(BaseModel):
    """A rendered synthetic dataset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: Path = Field(description="Folder of the YOLO dataset (rendered there if absent).")
    count: int = Field(ge=1, le=1_000_000, description="Number of images to render.")
    seed: int = Field(ge=0, le=2**31, description="Base seed; image i uses (seed, i).")
    imgsz: int = Field(default=320, ge=64, le=4096, description="Rendered image width, pixels.")
    val_fraction: float = Field(default=0.15, ge=0.0, le=1.0, description="Share put in val.")
    workers: int = Field(default=2, ge=1, le=64, description="Render processes.")
    repeat: dict[str, int] = Field(
        default_factory=dict,
        description=(
            "Oversampling of the train split: each training image holding an object of a listed "
            "class is listed this many times per epoch (the largest count among its classes). "
            "Empty: every image once."
        ),
    )

    @model_validator(mode="after")
    def _repeat_names_classes(self) -> DatasetConfig:
        for name, times in self.repeat.items():
            if name not in CLASSES:
                raise ValueError(f"repeat: unknown class {name!r}; known: {', '.join(CLASSES)}")
            if not 1 <= times <= 10:
                raise ValueError(f"repeat: {name} must be listed 1..10 times, got {times}")
        return self


class OptimConfig(BaseModel):
    """ultralytics training hyper-parameters that civicwatch sets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(ge=1, le=10_000, description="Training epochs.")
    imgsz: int = Field(default=320, ge=32, le=2048, description="Network input size, pixels.")
    batch: int = Field(default=16, ge=1, le=1024, description="Images per batch.")
    workers: int = Field(default=2, ge=0, le=64, description="Data-loader worker processes.")
    seed: int = Field(default=0, ge=0, le=2**31, description="Training seed.")
    device: str = Field(default="cpu", min_length=1, description="'cpu', '0', '0,1', ...")
    optimizer: Literal["SGD", "Adam", "AdamW", "auto"] = Field(
        default="AdamW", description="Optimiser."
    )
    lr0: float = Field(default=0.002, gt=0.0, le=1.0, description="Initial learning rate.")
    patience: int = Field(default=100, ge=0, le=10_000, description="Early-stop patience, epochs.")
    close_mosaic: int = Field(default=5, ge=0, le=10_000, description="Last epochs without mosaic.")
    mosaic: float = Field(default=1.0, ge=0.0, le=1.0, description="Mosaic probability.")
    scale: float = Field(default=0.4, ge=0.0, le=0.95, description="Random scale gain.")
    fliplr: float = Field(default=0.5, ge=0.0, le=1.0, description="Horizontal flip probability.")
    cls_pw: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Class-loss weights: inverse class frequency to this power (0 = off).",
    )
    cache: Literal["ram", "disk", "none"] = Field(default="ram", description="Image cache.")
    plots: bool = Field(default=False, description="Write training plots (slow on a CPU).")
    threads: int = Field(default=2, ge=1, le=256, description="torch CPU threads.")


class ExportConfig(BaseModel):
    """ONNX export."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    simplify: bool = Field(default=True, description="Simplify the graph with onnxslim.")
    opset: int | None = Field(default=None, ge=11, le=23, description="ONNX opset; null: default.")
    output: Path = Field(description="Where `civicwatch export` copies the ONNX model.")


def shared_data_root(root: Path = REPO_ROOT) -> Path:
    """The shared third-party data folder: ``$CIVICWATCH_SHARED_DATA``, else ``../shared/data``
    beside the project root ``root``."""
    env = os.environ.get("CIVICWATCH_SHARED_DATA")
    return Path(env) if env else root.parent / "shared" / "data"


class PretrainedFromConfig(BaseModel):
    """A COCO-pretrained ultralytics model to start from, re-headed for :data:`CLASSES`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    onnx: Path = Field(
        description="The pretrained model: an ultralytics ONNX export, float or int8 "
        "(dequantised, training.pretrained). Relative: in the shared data folder "
        "($CIVICWATCH_SHARED_DATA or ../shared/data)."
    )
    map: dict[str, str] = Field(
        default_factory=dict,
        description="Project class -> the pretrained model's class whose head row it starts "
        "from (e.g. person: person); classes not listed start from a fresh row.",
    )

    @model_validator(mode="after")
    def _map_names_classes(self) -> PretrainedFromConfig:
        for name, source in self.map.items():
            if name not in CLASSES:
                raise ValueError(
                    f"pretrained_from.map: unknown class {name!r}; known: {', '.join(CLASSES)}"
                )
            if not source.strip():
                raise ValueError(f"pretrained_from.map: {name} maps to an empty class name")
        return self


class RealBackgroundsConfig(BaseModel):
    """Real frames as training images (training.real_data): teacher pseudo-labels for person,
    car and truck, no stall or goods, and rendered objects pasted onto copies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: Path = Field(description="Folder of the real-background dataset (built if absent).")
    frames_per_clip: int = Field(
        default=40, ge=1, le=10_000, description="Frames taken from each training clip."
    )
    composites: int = Field(
        default=1, ge=0, le=10, description="Composited copies of each background."
    )
    max_objects: int = Field(
        default=3, ge=1, le=20, description="At most this many rendered objects per copy."
    )
    teacher_confidence: float = Field(
        default=0.6, ge=0.05, le=1.0, description="Teacher score a pseudo-label needs."
    )
    imgsz: int = Field(default=416, ge=64, le=4096, description="Image width written, pixels.")
    seed: int = Field(default=0, ge=0, le=2**31, description="Seed of placement and objects.")
    repeat: int = Field(
        default=1, ge=1, le=10, description="Times the real images are listed per epoch."
    )


class TrainConfig(BaseModel):
    """Everything `civicwatch train` needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Path = Field(description="ultralytics model yaml to start from (no pretrained weights).")
    grown_from: Path | None = Field(
        default=None,
        description=(
            "The model yaml of the ONNX file given with `--from` when `model` extends it (new "
            "layers, an added Detect level): the old weights are kept, the new layers start "
            "fresh (training.warmstart.grow_checkpoint). Unset: `model` itself."
        ),
    )
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$", description="Run name.")
    runs_dir: Path = Field(description="Folder for training runs.")
    config_dir: Path = Field(description="YOLO_CONFIG_DIR: ultralytics settings and fonts.")
    font: Path = Field(
        default=Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        description="Local TrueType font installed as ultralytics' Arial.ttf.",
    )
    dataset: DatasetConfig = Field(description="Training and validation data.")
    holdout: DatasetConfig = Field(description="Held-out evaluation data (seed never trained on).")
    train: OptimConfig = Field(description="Training hyper-parameters.")
    export: ExportConfig = Field(description="ONNX export.")
    pretrained_from: PretrainedFromConfig | None = Field(
        default=None,
        description="Start from a COCO-pretrained model re-headed for the project's classes "
        "(training.pretrained) instead of the model yaml's fresh weights; `--from` overrides.",
    )
    real_backgrounds: RealBackgroundsConfig | None = Field(
        default=None,
        description="Add real frames with pseudo-labels and pasted objects to the training "
        "split (training.real_data). Unset: rendered scenes only.",
    )

    @model_validator(mode="after")
    def _holdout_is_held_out(self) -> TrainConfig:
        if self.holdout.seed == self.dataset.seed:
            raise ValueError("holdout.seed must differ from dataset.seed (held-out images)")
        return self

    def resolved(self, root: Path = REPO_ROOT) -> TrainConfig:
        """A copy with every relative path made absolute against ``root``."""

        def fix(p: Path) -> Path:
            return p if p.is_absolute() else (root / p)

        return self.model_copy(
            update={
                "model": fix(self.model),
                "grown_from": None if self.grown_from is None else fix(self.grown_from),
                "runs_dir": fix(self.runs_dir),
                "config_dir": fix(self.config_dir),
                "dataset": self.dataset.model_copy(update={"root": fix(self.dataset.root)}),
                "holdout": self.holdout.model_copy(update={"root": fix(self.holdout.root)}),
                "export": self.export.model_copy(update={"output": fix(self.export.output)}),
                "pretrained_from": None
                if self.pretrained_from is None
                else self.pretrained_from.model_copy(
                    update={
                        "onnx": self.pretrained_from.onnx
                        if self.pretrained_from.onnx.is_absolute()
                        else shared_data_root(root) / self.pretrained_from.onnx
                    }
                ),
                "real_backgrounds": None
                if self.real_backgrounds is None
                else self.real_backgrounds.model_copy(
                    update={"root": fix(self.real_backgrounds.root)}
                ),
            }
        )


def load_config(path: Path = DEFAULT_CONFIG) -> TrainConfig:
    """Load and validate a training configuration, with paths made absolute.

    Args:
        path: The YAML file.

    Returns:
        The configuration.

    Raises:
        ConfigError: If the file is missing, not YAML, or fails validation (the message
            names each offending field).
    """
    if not path.is_file():
        raise ConfigError(path, [f"{path}: training config not found"])
    config = load_yaml_model(
        path, TrainConfig, expected="a mapping of training settings", error=ConfigError
    )
    return config.resolved(project_root(path))
