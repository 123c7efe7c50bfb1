"""What the real-image evaluation reads: the shared data, the edge's settings, the models.

* :func:`find_real_data` lists the shared data's real material by role: the clips that show no
  stall and no goods (``training/real_footage.yaml``), the truck checkpoint photos with their
  folder label, and the described photos; identical files (the checkpoint set holds two photos
  twice) are counted once.
* :func:`edge_settings` reads what the edge runs with from its config file: the detector's
  confidence and NMS IoU, the cameras' analysis rate and the muck-truck settings (cover model,
  voting band, smallest load region).
* :func:`registry_models` and :func:`teacher_model` name the models to evaluate;
  :func:`road_model` the road profile's own detector (``scheduling.road_detector``), run as
  the edge runs it (its plugin, confidence and the edge's label map).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from edge.config import load_edge_config
from edge.detectors import COCO_STREET_LABEL_MAP, DetectorConfig, LabelMapConfig
from edge.registry import Registry, verify_model
from edge.rules.settings import MuckTruckSettings
from training.config import REPO_ROOT
from training.evaluate import IMAGE_SUFFIXES, VIDEO_SUFFIXES, FootageTruth, load_footage_truth

DEFAULT_EDGE_CONFIG = REPO_ROOT / "configs" / "edge.yaml"
"""The edge config whose detector confidence, analysis rate and muck-truck settings apply."""

TRUCK_FOLDER = "images/truck_checkpoint"
"""Truck checkpoint photos, ``{train,val}/{0,1,2,3}/*.jpg`` below the shared data folder."""

TEACHER_FILE = "weights/yolov8n_int8.onnx"
"""The COCO teacher (ultralytics YOLOv8n, int8), read by the edge's ``yolo`` plugin."""

STALL_GOODS = ("stall", "goods")


class RealDataError(FileNotFoundError):
    """The shared data folder, or a part the evaluation needs, is missing."""


@dataclass(frozen=True, slots=True)
class TruckPhoto:
    """A checkpoint photo and its cover label (the folder: 0 empty .. 3 not covered)."""

    file: str
    folder: int


@dataclass(frozen=True, slots=True)
class DescribedPhoto:
    """A real photo and what it shows by eye."""

    file: str
    truth: FootageTruth


@dataclass(frozen=True, slots=True)
class RealData:
    """The real material, by role; files are relative to ``root``."""

    root: Path
    clips: tuple[str, ...]
    trucks: tuple[TruckPhoto, ...]
    photos: tuple[DescribedPhoto, ...]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_real_data(root: Path, truth: dict[str, FootageTruth] | None = None) -> RealData:
    """List the real material under the shared data folder ``root``.

    Args:
        root: The shared data folder (with ``INVENTORY.md``).
        truth: What each file shows (default: ``training/real_footage.yaml``).

    Raises:
        RealDataError: If ``root`` is not the shared data folder, a described file is missing,
            or there are no truck photos.
    """
    if not (root / "INVENTORY.md").is_file():
        raise RealDataError(
            f"shared data not found at {root} (no INVENTORY.md); set CIVICWATCH_SHARED_DATA "
            "or pass --data"
        )
    described = truth if truth is not None else load_footage_truth()
    missing = sorted(f for f in described if not (root / f).is_file())
    if missing:
        raise RealDataError(f"described in real_footage.yaml but not in {root}: {missing}")
    seen: set[str] = set()
    trucks = []
    for path in sorted((root / TRUCK_FOLDER).glob("*/[0-3]/*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and (digest := _digest(path)) not in seen:
            seen.add(digest)
            trucks.append(TruckPhoto(path.relative_to(root).as_posix(), int(path.parent.name)))
    if not trucks:
        raise RealDataError(f"no truck photos under {root / TRUCK_FOLDER}/*/[0-3]/")
    seen.clear()  # the truck photos are described photos too
    photos = []
    for file, t in sorted(described.items()):
        path = root / file
        if path.suffix.lower() in IMAGE_SUFFIXES and (digest := _digest(path)) not in seen:
            seen.add(digest)
            photos.append(DescribedPhoto(file, t))
    clips = tuple(
        file
        for file, t in sorted(described.items())
        if file.endswith(VIDEO_SUFFIXES) and not set(STALL_GOODS) & {*t.present, *t.arguable}
    )
    return RealData(root, clips, tuple(trucks), tuple(photos))


class EdgeSettings(BaseModel):
    """What the edge runs with, as far as the real evaluation is concerned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="The edge config file these came from.")
    confidence: float = Field(ge=0.0, le=1.0, description="Detector score threshold.")
    iou: float = Field(gt=0.0, le=1.0, description="Detector NMS IoU.")
    analysis_fps: float = Field(gt=0.0, description="Frames analysed per second of video.")
    muck_truck: MuckTruckSettings = Field(description="Cover model and voting band.")
    threads: int = Field(ge=0, description="onnxruntime intra-op threads.")
    label_map: LabelMapConfig = Field(
        default_factory=LabelMapConfig, description="The edge's label map (every detector)."
    )
    road_detector: DetectorConfig | None = Field(
        default=None, description="The road cameras' own model (scheduling.road_detector)."
    )
    model_registry: Path | None = Field(
        default=None, description="The registry the edge checks its models against."
    )

    @property
    def cover_model(self) -> Path:
        """The cover classifier file (a relative path from the cwd, else the repository)."""
        path = self.muck_truck.cover_model
        if path.is_absolute() or path.is_file():
            return path
        return REPO_ROOT / path


def edge_settings(path: Path = DEFAULT_EDGE_CONFIG) -> EdgeSettings:
    """Read the detector threshold, analysis rate and muck-truck settings from an edge config.

    The analysis rate is the first enabled camera's ``analysis_fps``.

    Raises:
        edge.config.EdgeConfigError: If the file is not a valid edge config.
        ValueError: If it enables no camera.
    """
    config = load_edge_config(path)
    enabled = [c for c in config.cameras if c.enabled]
    if not enabled:
        raise ValueError(f"{path}: no enabled camera, so no analysis rate")
    return EdgeSettings(
        source=str(path),
        confidence=config.detector.confidence,
        iou=config.detector.iou,
        analysis_fps=enabled[0].analysis_fps,
        muck_truck=config.rules.muck_truck,
        threads=config.detector.intra_op_threads,
        label_map=config.label_map,
        road_detector=config.scheduling.road_detector,
        model_registry=config.model_registry,
    )


@dataclass(frozen=True, slots=True)
class RealModel:
    """A model to evaluate: its table label, file, label map, and whether it is the teacher.

    ``detector`` set: the model runs with that plugin configuration (its type and confidence)
    instead of the ``yolo`` plugin at the edge's detector confidence.
    """

    label: str
    path: Path
    label_map: LabelMapConfig
    teacher: bool = False
    detector: DetectorConfig | None = None


def registry_models(registry: Registry, names: list[str] | None = None) -> list[RealModel]:
    """The registry's live models (the default first), or those named ``NAME@VERSION``.

    Each file is verified against its sha256 first.

    Raises:
        edge.registry.RegistryError / ModelVerificationError: A name is unknown, or a file
            does not match its entry.
    """
    default = registry.default_entry() if registry.default else None
    if names:
        entries = [registry.get(n.partition("@")[0], n.partition("@")[2] or None) for n in names]
    else:
        entries = sorted(registry.live, key=lambda e: (e != default, e.name, e.version))
    out = []
    for entry in entries:
        path = registry.path_of(entry)
        verify_model(path, registry)
        label = f"{entry.name}-v{entry.version}" + (" (default)" if entry == default else "")
        out.append(RealModel(label, path, LabelMapConfig()))
    return out


def teacher_model(root: Path) -> RealModel:
    """The COCO teacher as a model row (the edge's COCO street label map).

    Raises:
        RealDataError: If the teacher's weights are not in the shared data.
    """
    path = root / TEACHER_FILE
    if not path.is_file():
        raise RealDataError(f"COCO teacher {path} not found")
    return RealModel("yolov8n_int8 (COCO teacher)", path, COCO_STREET_LABEL_MAP, teacher=True)


def road_model(settings: EdgeSettings) -> RealModel | None:
    """The road profile's detector as a model row, if the edge config sets one.

    It runs as the edge runs it: its own plugin configuration and the edge's label map; the
    file is verified against the edge's registry first when the config names one (the edge
    refuses an unlisted file).

    Raises:
        edge.registry.RegistryError / ModelVerificationError: The file is not listed in the
            edge's registry, or does not match its entry.
    """
    detector = settings.road_detector
    if detector is None:
        return None
    path = detector.path
    label = f"road profile: {detector.name or path.stem} (scheduling.road_detector)"
    if settings.model_registry is not None:
        from edge.registry import load_registry

        entry = verify_model(path, load_registry(settings.model_registry))
        label = f"road profile: {entry.name}-v{entry.version} (scheduling.road_detector)"
    return RealModel(label, path, settings.label_map, detector=detector)
