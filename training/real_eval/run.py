"""Running models over the real material with the edge's own code.

Every model runs through :class:`edge.analysis.Analyzer` (the edge's one analysis pipeline:
its detector plugin, label map and tracker) at the edge's configured confidence:

* clips: frames thinned to the edge's ``analysis_fps`` as the worker does, a fresh analyzer
  (tracker) per clip, full pipeline; every stall or goods box is a false one (the clips show
  neither);
* the road profile's detector (``scheduling.road_detector``), when the edge config sets one,
  runs with its own plugin configuration and confidence, as road cameras run it;
* truck photos: the largest truck box, its load region (:func:`edge.rules.cover.load_region`)
  classified by the edge's cover classifier, the probability voted with
  :meth:`MuckTruckSettings.vote`. A photo is one frame, so its one vote is its verdict (the
  edge wants 3 of 5 agreeing frames of a pass);
* photos: which classes the model boxes;
* person / car / truck boxes on all of those frames against the COCO teacher's boxes scoring
  at least :data:`TEACHER_CONFIDENCE`.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from edge.analysis import Analyzer
from edge.detectors import OBJECT_NAMES, LabelMapConfig, create_detector
from edge.detectors.plugins.yolo import YoloConfig
from edge.registry import sha256_file
from edge.rules.cover import OnnxCoverClassifier, crop, load_region
from edge.types import Detections, Frame, ImageArray
from training.real_eval.data import EdgeSettings, RealData, RealModel
from training.real_eval.records import (
    AGREEMENT_CLASSES,
    ClassAgreement,
    ClipResult,
    ModelRealReport,
    PhotoResult,
    RealSummary,
    TruckPhotoResult,
    agreement,
    summarize,
)
from zones.config import CameraZones

logger = logging.getLogger(__name__)

TEACHER_CONFIDENCE = 0.5
"""The teacher's boxes that the agreement column counts as reference."""

_CLOCK = datetime(2026, 1, 1, tzinfo=UTC)
_ZONES = CameraZones(camera_id="real-eval", zones=[])


class RealEvalReport(BaseModel):
    """One run of the real evaluation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: str = Field(description="UTC date of the run.")
    machine: str = Field(description="Where it ran.")
    command: str = Field(description="The command line.")
    data: str = Field(description="Shared data folder.")
    settings: EdgeSettings = Field(description="The edge settings applied.")
    clip_limit: int | None = Field(description="Frames analysed per clip at most (None: all).")
    models: list[ModelRealReport] = Field(description="One per model, in table order.")

    @property
    def summaries(self) -> list[RealSummary]:
        """The table rows."""
        return [summarize(m) for m in self.models]


def machine_line() -> str:
    """The machine in words: CPU architecture, cores, Python."""
    return (
        f"{platform.machine()} CPU, {os.cpu_count()} cores (shared), "
        f"Python {platform.python_version()}"
    )


@dataclass(frozen=True, slots=True)
class RealFrame:
    """One frame of the real material: where it is from and its pixels."""

    key: str
    t_s: float
    image: ImageArray


def clip_frames(path: Path, analysis_fps: float, limit: int | None = None) -> Iterator[RealFrame]:
    """The frames of a clip the edge would analyse at ``analysis_fps`` (by presentation time).

    Args:
        path: The clip.
        analysis_fps: Frames analysed per second of video.
        limit: Stop after this many frames (``None``: the whole clip).
    """
    next_t = 0.0
    count = 0
    with av.open(str(path)) as container:
        for decoded in container.decode(container.streams.video[0]):
            t = float(decoded.time or 0.0)
            if t + 1e-6 < next_t:
                continue
            if limit is not None and count >= limit:
                return
            next_t = t + 1.0 / analysis_fps
            image = np.ascontiguousarray(decoded.to_ndarray(format="bgr24"), dtype=np.uint8)
            yield RealFrame(f"{path.name}#{count}", t, image)
            count += 1


def read_photo(root: Path, file: str) -> RealFrame:
    """One photo as a frame.

    Raises:
        OSError: If it cannot be decoded.
    """
    image = cv2.imread(str(root / file), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"could not read {root / file}")
    return RealFrame(file, 0.0, np.ascontiguousarray(image, dtype=np.uint8))


class Teacher:
    """The COCO teacher's person / car / truck boxes per frame key (computed once, reused)."""

    def __init__(self, path: Path, settings: EdgeSettings) -> None:
        detector = create_detector(
            YoloConfig(
                path=path,
                confidence=TEACHER_CONFIDENCE,
                iou=settings.iou,
                intra_op_threads=settings.threads,
            )
        )
        mapping = LabelMapConfig(mapping={n: n for n in AGREEMENT_CLASSES})
        self._analyzer = Analyzer(zones=_ZONES, detector=detector, label_map=mapping)
        self._boxes: dict[str, Detections] = {}

    def boxes(self, frame: RealFrame) -> Detections:
        """The teacher's high-confidence boxes of ``frame``."""
        if frame.key not in self._boxes:
            self._boxes[frame.key] = self._analyzer.detect(_frame(frame))
        return self._boxes[frame.key]


def _frame(frame: RealFrame, seq: int = 0) -> Frame:
    return Frame(_ZONES.camera_id, seq, _CLOCK + timedelta(seconds=frame.t_s), frame.image)


def _analyzer(model: RealModel, settings: EdgeSettings) -> Analyzer:
    """The edge's analyzer for ``model``: its own plugin configuration (the road profile's
    detector) or the ``yolo`` plugin at the edge's detector confidence."""
    config = (
        model.detector
        if model.detector is not None
        else YoloConfig(
            path=model.path,
            confidence=settings.confidence,
            iou=settings.iou,
            intra_op_threads=settings.threads,
        )
    )
    detector = create_detector(config)
    return Analyzer(zones=_ZONES, detector=detector, label_map=model.label_map)


def _has(found: Detections, names: tuple[str, ...]) -> npt.NDArray[np.bool_]:
    ids = [found.names.index(n) for n in names if n in found.names]
    mask: npt.NDArray[np.bool_] = np.isin(found.class_id, ids)
    return mask


class _Agreement:
    """Per-class agreement counts summed over frames."""

    def __init__(self) -> None:
        self.totals: dict[str, ClassAgreement] = {}

    def add(self, found: Detections, teacher: Detections) -> None:
        for a in agreement(found, teacher):
            self.totals[a.name] = self.totals[a.name].plus(a) if a.name in self.totals else a


def evaluate_model(
    model: RealModel,
    data: RealData,
    settings: EdgeSettings,
    *,
    teacher: Teacher,
    cover: OnnxCoverClassifier,
    clip_limit: int | None = None,
) -> ModelRealReport:
    """Run one model over the real material (see the module's description).

    Args:
        model: The model and its label map.
        data: The real material.
        settings: The edge's confidence, analysis rate and muck-truck settings.
        teacher: The COCO teacher's boxes (for the agreement column).
        cover: The edge's cover classifier.
        clip_limit: Analyse at most this many frames per clip.
    """
    agree = _Agreement()
    clips = []
    detect_s, detect_frames = 0.0, 0
    for file in data.clips:
        analyzer = _analyzer(model, settings)  # a fresh tracker per camera
        frames = false_frames = false_boxes = tracked = 0
        last_t = 0.0
        for seq, frame in enumerate(
            clip_frames(data.root / file, settings.analysis_fps, clip_limit)
        ):
            analysis = analyzer.analyse(_frame(frame, seq))
            found = analysis.detections
            detect_s += analysis.detect_s
            false = _has(found, ("stall", "goods"))
            frames += 1
            last_t = frame.t_s
            false_frames += int(false.any())
            false_boxes += int(false.sum())
            tracked += int((false & (found.tracker_id >= 0)).sum())
            if not model.teacher:
                agree.add(found, teacher.boxes(frame))
        detect_frames += frames
        if frames == 0:
            raise OSError(f"no frames decoded from {data.root / file}")
        clips.append(
            ClipResult(
                file=file,
                frames=frames,
                seconds=last_t + 1.0 / settings.analysis_fps,
                false_frames=false_frames,
                false_boxes=false_boxes,
                tracked_false_boxes=tracked,
            )
        )
    analyzer = _analyzer(model, settings)
    folders = {t.file: t.folder for t in data.trucks}
    truths = {p.file: p.truth for p in data.photos}
    trucks, photos = [], []
    for file in sorted({*folders, *truths}):
        frame = read_photo(data.root, file)
        found = analyzer.detect(_frame(frame))
        if not model.teacher:
            agree.add(found, teacher.boxes(frame))
        if file in folders:
            trucks.append(_judge_truck(file, folders[file], frame, found, cover, settings))
        if (truth := truths.get(file)) is not None:
            free = [c for c in ("stall", "goods") if c not in {*truth.present, *truth.arguable}]
            photos.append(
                PhotoResult(
                    file=file,
                    shows=list(truth.present),
                    free_of=free,
                    found=sorted(set(found.class_name)),
                )
            )
    labels = analyzer.labels
    soil = labels is not None and OBJECT_NAMES.index("bare_soil") in labels.object_of_class
    return ModelRealReport(
        model=model.label,
        file=str(model.path),
        sha256=sha256_file(model.path),
        teacher=model.teacher,
        has_bare_soil=soil,
        clips=clips,
        trucks=trucks,
        photos=photos,
        agreement=list(agree.totals.values()),
        ms_per_frame=1000.0 * detect_s / max(detect_frames, 1),
    )


def _judge_truck(
    file: str,
    folder: int,
    frame: RealFrame,
    found: Detections,
    cover: OnnxCoverClassifier,
    settings: EdgeSettings,
) -> TruckPhotoResult:
    """The largest truck box's cover vote on one checkpoint photo."""
    trucks = found[_has(found, ("truck",))]
    if len(trucks) == 0:
        return TruckPhotoResult(
            file=file, folder=folder, truck_confidence=None, p_uncovered=None, verdict=None
        )
    areas = np.prod(trucks.xyxy[:, 2:] - trucks.xyxy[:, :2], axis=1)
    best = int(areas.argmax())
    h, w = frame.image.shape[:2]
    region = load_region(trucks.xyxy[best], (w, h))
    p: float | None = None
    if min(region[2] - region[0], region[3] - region[1]) >= settings.muck_truck.min_load_px:
        p = float(cover.p_uncovered([crop(frame.image, region)])[0])
    vote = settings.muck_truck.vote(p) if p is not None else None
    return TruckPhotoResult(
        file=file,
        folder=folder,
        truck_confidence=float(trucks.confidence[best]),
        p_uncovered=p,
        verdict=None if vote is None else ("uncovered" if vote else "covered"),
    )


def evaluate_real(
    models: list[RealModel],
    data: RealData,
    settings: EdgeSettings,
    *,
    teacher_path: Path,
    clip_limit: int | None = None,
    command: str = "civicwatch evaluate --real",
) -> RealEvalReport:
    """Run every model over the real material; one report per model, in order.

    Args:
        models: The models, in table order.
        data: The real material.
        settings: The edge's settings.
        teacher_path: The COCO teacher's weights.
        clip_limit: Analyse at most this many frames per clip.
        command: The command line, for the record.

    Raises:
        OSError: A file cannot be decoded.
        FileNotFoundError / ValueError: The teacher or cover model cannot be loaded.
    """
    teacher = Teacher(teacher_path, settings)
    cover = OnnxCoverClassifier(settings.cover_model, threads=max(settings.threads, 1))
    reports = []
    for model in models:
        started = time.monotonic()
        reports.append(
            evaluate_model(
                model, data, settings, teacher=teacher, cover=cover, clip_limit=clip_limit
            )
        )
        logger.info("real evaluation of %s: %.0f s", model.label, time.monotonic() - started)
    return RealEvalReport(
        date=datetime.now(UTC).date().isoformat(),
        machine=machine_line(),
        command=command,
        data=str(data.root),
        settings=settings,
        clip_limit=clip_limit,
        models=reports,
    )
