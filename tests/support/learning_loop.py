"""The learning loop end to end, on real parts: cases -> review -> export -> train -> gate.

Used by the proof test (tests/training/gate/test_learning_loop.py, short) and the bench
(bench/bench_learning.py, full). The cases come from the edge's own detector at its
deployment threshold on real no-violation clips of the shared data (every stall or goods
box there is false) and on rendered scenes with stalls (truth known), and enter a real
server database and evidence store through the server's ingest code; a scripted reviewer
judges them from the truth through the review-label service; ``dataset export``, ``train
--from default --data``, ``models gate`` follow, and the default and the candidate are
replayed over the same cameras to count false cases per camera-hour.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import yaml
from sqlalchemy.orm import Session, sessionmaker

from contracts import topics
from contracts.events import EvidenceKind, EvidenceRef, ZoneEvent
from edge.detectors import create_detector
from edge.detectors.plugins.yolo import YoloConfig
from server import crud
from server.core.db import make_engine, make_session_factory, run_migrations
from server.dataset_export.plan import SplitPolicy
from server.dataset_export.writer import ExportSummary, export_dataset
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext, IngestLimits, IngestMetrics, dispatch
from server.review_labels.model import (
    BoxAction,
    BoxEdit,
    LabelBox,
    ReasonCode,
    StructuredReason,
)
from server.review_labels.service import edit_boxes, record_reason
from server.tables import ReviewVerdict
from tests.server.builders import props
from training.detection_metrics import box_iou
from training.scenes.classes import CLASSES

logger = logging.getLogger(__name__)

CASE_CLASSES = ("stall", "goods")
"""What the street-stall rule raises cases on (the classes the reviewer judges)."""

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
LOOK_EVERY = timedelta(hours=5)
"""Simulated time between two analysed frames of a camera: a week of cases over few frames,
so the camera/day split has several blocks per camera."""

LIMITS = IngestLimits(require_chain=False, max_clock_skew_s=400 * 24 * 3600.0)


@dataclass(frozen=True, slots=True)
class LoopFrame:
    """A frame one camera analysed, with the truth where known.

    Attributes:
        truth: Boxes (class name, normalised xyxy); for a real clip: none of the case classes.
        real: From a real no-violation clip.
        seconds: Camera time the frame stands for (1 / analysis rate), for per-hour figures.
    """

    camera_id: str
    at: datetime
    image: np.ndarray
    truth: tuple[tuple[str, tuple[float, float, float, float]], ...]
    real: bool
    seconds: float


def real_frames(shared: Path, analysis_fps: float, per_clip: int | None) -> list[LoopFrame]:
    """The no-violation clips of the shared data, thinned to the edge's analysis rate."""
    from training.real_eval.data import find_real_data
    from training.real_eval.run import clip_frames

    data = find_real_data(shared)
    out = []
    for clip in data.clips:
        camera = "real-" + Path(clip).stem.replace("_", "-")[:40]
        for i, frame in enumerate(clip_frames(data.root / clip, analysis_fps, per_clip)):
            out.append(
                LoopFrame(camera, T0 + i * LOOK_EVERY, frame.image, (), True, 1 / analysis_fps)
            )
    return out


def rendered_frames(root: Path, count: int, seed: int, imgsz: int, cameras: int) -> list[LoopFrame]:
    """Rendered street scenes (truth from the renderer), spread over ``cameras`` cameras."""
    from training.scenes.dataset import write_dataset

    write_dataset(root, count=count, seed=seed, imgsz=imgsz, val_fraction=0.0, workers=1)
    out = []
    for i, path in enumerate(sorted((root / "images" / "train").glob("*.jpg"))):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"could not read {path}")
        truth = []
        for line in (root / "labels" / "train" / f"{path.stem}.txt").read_text().splitlines():
            c, cx, cy, w, h = line.split()
            x, y, bw, bh = float(cx), float(cy), float(w), float(h)
            truth.append((CLASSES[int(c)], (x - bw / 2, y - bh / 2, x + bw / 2, y + bh / 2)))
        camera = f"scene-{i % cameras}"
        at = T0 + (i // cameras) * LOOK_EVERY
        out.append(LoopFrame(camera, at, image, tuple(truth), False, 0.5))
    return out


@dataclass(frozen=True, slots=True)
class Sighting:
    """A case the edge would raise on a frame: its most confident stall/goods box."""

    frame: LoopFrame
    class_name: str
    score: float
    xyxyn: tuple[float, float, float, float]


def sightings(
    model: Path, frames: Sequence[LoopFrame], confidence: float, iou: float
) -> list[Sighting]:
    """The stall/goods boxes the model finds at the deployment threshold, one case per frame."""
    detector = create_detector(YoloConfig(path=model, confidence=confidence, iou=iou))
    out = []
    for frame in frames:
        found = detector.detect(frame.image)
        h, w = frame.image.shape[:2]
        best = None
        for i in range(len(found)):
            name = CLASSES[int(found.class_id[i])]
            if name in CASE_CLASSES and (
                best is None or found.confidence[i] > found.confidence[best]
            ):
                best = i
        if best is not None:
            x1, y1, x2, y2 = (float(v) for v in found.xyxy[best])
            box = (max(x1 / w, 0.0), max(y1 / h, 0.0), min(x2 / w, 1.0), min(y2 / h, 1.0))
            out.append(
                Sighting(
                    frame, CLASSES[int(found.class_id[best])], float(found.confidence[best]), box
                )
            )
    return out


def false_boxes(model: Path, frames: Sequence[LoopFrame], confidence: float, iou: float) -> int:
    """Stall/goods boxes at the deployment threshold that match no truth box (IoU 0.5)."""
    detector = create_detector(YoloConfig(path=model, confidence=confidence, iou=iou))
    false = 0
    for frame in frames:
        found = detector.detect(frame.image)
        h, w = frame.image.shape[:2]
        for i in range(len(found)):
            name = CLASSES[int(found.class_id[i])]
            if name not in CASE_CLASSES:
                continue
            truth = np.array(
                [[b[0] * w, b[1] * h, b[2] * w, b[3] * h] for n, b in frame.truth if n == name],
                dtype=np.float32,
            ).reshape(-1, 4)
            if not len(truth) or float(box_iou(found.xyxy[i : i + 1], truth).max()) < 0.5:
                false += 1
    return false


@dataclass(slots=True)
class Deployment:
    """A real server database and evidence store (SQLite file, evidence folder)."""

    root: Path
    factory: sessionmaker[Session]
    store: EvidenceStore

    @classmethod
    def create(cls, root: Path) -> Deployment:
        engine = make_engine(f"sqlite:///{root / 'server.db'}")
        run_migrations(engine)
        return cls(root, make_session_factory(engine), EvidenceStore(root / "evidence"))

    def settings_file(self) -> Path:
        path = self.root / "server.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "database_url": f"sqlite:///{self.root / 'server.db'}",
                    "evidence_dir": str(self.root / "evidence"),
                    "mqtt_enabled": False,
                }
            )
        )
        return path

    def ingest(self, sighting: Sighting, n: int, model: dict[str, str]) -> int:
        """The case of one sighting, through the server's ingest (frame evidence + start)."""
        ok, encoded = cv2.imencode(".jpg", sighting.frame.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        jpeg = bytes(encoded.tobytes())
        sha = hashlib.sha256(jpeg).hexdigest()
        at = sighting.frame.at
        ref = EvidenceRef(
            sha256=sha,
            kind=EvidenceKind.FRAME,
            content_type="image/jpeg",
            byte_size=len(jpeg),
            captured_at=at,
        )
        x1, y1, x2, y2 = sighting.xyxyn
        event = ZoneEvent.model_validate(
            {
                "event_id": f"{n:032x}",
                "phase": "start",
                "edge_id": "edge-loop",
                "camera_id": sighting.frame.camera_id,
                "zone_id": "sidewalk",
                "rule": "street_stall",
                "violation_type": "street_stall",
                "label": sighting.class_name,
                "confidence": round(sighting.score, 4),
                "box": {"x1": x1, "y1": y1, "x2": x2, "y2": y2},
                "first_seen": at,
                "last_seen": at + timedelta(seconds=60),
                "dwell_s": 60.0,
                "model": model,
                "evidence": [ref],
                "sent_at": at + timedelta(seconds=61),
            }
        )
        context = IngestContext(store=self.store, limits=LIMITS)
        for topic, payload, kind in (
            (topics.evidence_topic("edge-loop", sha), jpeg, "image/jpeg"),
            (topics.event_topic("edge-loop", event.camera_id), event.to_json(), "application/json"),
        ):
            outcome = dispatch(
                self.factory,
                topic,
                payload,
                props(kind),
                context=context,
                metrics=IngestMetrics(),
                now=at,
            )
            if not outcome.accepted:
                raise RuntimeError(f"ingest refused case {n}: {outcome}")
        with self.factory() as session:
            case = crud.get_case_by_event_id(session, event_id=event.event_id)
            assert case is not None
            return case.id


@dataclass(frozen=True, slots=True)
class ReviewTally:
    confirmed: int
    rejected_wrong_object: int
    boxes_fixed: int
    boxes_added: int


def scripted_review(deployment: Deployment, cases: Sequence[tuple[int, Sighting]]) -> ReviewTally:
    """A reviewer who knows the truth: confirm a right stall/goods box (moved onto the truth),
    reject a wrong one as wrong_object (really: the overlapping truth class, else
    background), and add the stall/goods boxes the model missed."""
    confirmed = rejected = fixed = added = 0
    for case_id, sighting in cases:
        now = sighting.frame.at + timedelta(hours=1)
        truth = sighting.frame.truth
        box = np.array([sighting.xyxyn], dtype=np.float32)
        best_same, best_any, best_any_name = -1.0, -1.0, None
        match = None
        for name, tb in truth:
            iou = float(box_iou(box, np.array([tb], dtype=np.float32))[0, 0])
            if name == sighting.class_name and iou > best_same:
                best_same, match = iou, tb
            if iou > best_any:
                best_any, best_any_name = iou, name
        with deployment.factory() as session:
            case = crud.get_case(session, case_id=case_id)
            assert case is not None
            right = match is not None and best_same >= 0.5
            for name, tb in truth:
                if name not in CASE_CLASSES or (right and tb == match):
                    continue
                if float(box_iou(box, np.array([tb], dtype=np.float32))[0, 0]) >= 0.5:
                    continue
                edit_boxes(
                    session,
                    case=case,
                    edit=BoxEdit(action=BoxAction.ADD, box=_label_box(tb), class_name=name),
                    reviewer="scripted",
                    now=now,
                )
                added += 1
            if right and match is not None:
                edit_boxes(
                    session,
                    case=case,
                    edit=BoxEdit(action=BoxAction.FIX, box_id="detected", box=_label_box(match)),
                    reviewer="scripted",
                    now=now,
                )
                fixed += 1
                crud.review_case(
                    session,
                    case=case,
                    verdict=ReviewVerdict.CONFIRM,
                    reason=None,
                    reviewer="scripted",
                    now=now,
                )
                confirmed += 1
            else:
                really = (
                    best_any_name
                    if best_any >= 0.5 and best_any_name != sighting.class_name
                    else "background"
                )
                crud.review_case(
                    session,
                    case=case,
                    verdict=ReviewVerdict.REJECT,
                    reason=None,
                    reviewer="scripted",
                    now=now,
                )
                record_reason(
                    session,
                    case=case,
                    review=case.reviews[-1],
                    reason=StructuredReason(
                        code=ReasonCode.WRONG_OBJECT, box_id="detected", really_is=really
                    ),
                    now=now,
                )
                rejected += 1
            session.commit()
    return ReviewTally(confirmed, rejected, fixed, added)


def _label_box(b: tuple[float, float, float, float]) -> LabelBox:
    x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in b)
    return LabelBox(x1=x1, y1=y1, x2=max(x2, x1 + 1e-4), y2=max(y2, y1 + 1e-4))


def export(deployment: Deployment, out: Path, policy: SplitPolicy) -> ExportSummary:
    return export_dataset(deployment.factory, deployment.store, out, policy=policy)


@dataclass(frozen=True, slots=True)
class LoopParams:
    """Sizes of one loop run (the test's are small, the bench's larger)."""

    frames_per_clip: int | None = 16
    analysis_fps: float = 0.5
    scenes: int = 24
    scene_imgsz: int = 576
    cameras: int = 4
    train_scenes: int = 24
    holdout_scenes: int = 12
    epochs: int = 1
    imgsz: int = 320
    lr0: float = 0.0005
    """A fine-tune: a tenth of the recipe's rate, so one short run moves the default little."""
    export_imgsz: int | None = None
    """Input size of the candidate's ONNX file; None: the default model's (its deployment)."""
    rendered_ratio: float = 1.0
    export_repeat: int = 2
    fraction: float = 1.0
    block_hours: float = 24.0
    val_fraction: float = 0.15
    test_fraction: float = 0.3


@dataclass(frozen=True, slots=True)
class LoopResult:
    """What one run of the loop did and measured."""

    cases: int
    review: ReviewTally
    export: ExportSummary
    candidate: Path
    default: Path
    gate_json: Path
    gate_md: Path
    gate_passed: bool
    camera_hours: float
    false_default: int
    false_candidate: int
    holdout_map50_default: float
    holdout_map50_candidate: float
    train_s: float

    @property
    def false_per_hour(self) -> tuple[float, float]:
        return self.false_default / self.camera_hours, self.false_candidate / self.camera_hours


def run_loop(work: Path, shared: Path, params: LoopParams, config_dir: Path) -> LoopResult:
    """Cases -> scripted review -> export -> train (from the default) -> gate -> replay."""
    import time

    from edge.registry import default_model
    from training.config import load_config
    from training.gate.run import run_gate
    from training.real_eval.data import edge_settings
    from training.train import export_onnx, train

    settings = edge_settings()
    default = default_model()
    frames = real_frames(shared, params.analysis_fps, params.frames_per_clip)
    frames += rendered_frames(
        work / "scenes", params.scenes, 4242, params.scene_imgsz, params.cameras
    )
    found = sightings(default, frames, settings.confidence, settings.iou)
    deployment = Deployment.create(work / "deployment")
    from edge.registry import load_registry

    entry = load_registry().default_entry()
    model = {"name": entry.name, "version": entry.version, "sha256": entry.sha256}
    cases = [(deployment.ingest(s, n, model), s) for n, s in enumerate(found, start=1)]
    tally = scripted_review(deployment, cases)
    logger.info("loop: %d cases, review %s", len(cases), tally)
    summary = export(
        deployment,
        work / "export",
        SplitPolicy(params.block_hours, params.val_fraction, params.test_fraction),
    )
    base = load_config()
    config = base.model_copy(
        update={
            "name": "review-loop",
            "runs_dir": work / "runs",
            "config_dir": config_dir,
            "dataset": base.dataset.model_copy(
                update={"root": work / "rendered-train", "count": params.train_scenes, "workers": 1}
            ),
            "holdout": base.holdout.model_copy(
                update={"root": work / "holdout", "count": params.holdout_scenes, "workers": 1}
            ),
            "train": base.train.model_copy(update={"batch": 8, "cache": "none", "workers": 0}),
        }
    )
    started = time.monotonic()
    result = train(
        config,
        epochs=params.epochs,
        init=default,
        data=work / "export",
        rendered_ratio=params.rendered_ratio,
        export_repeat=params.export_repeat,
        imgsz=params.imgsz,
        fraction=params.fraction,
        lr0=params.lr0,
    )
    train_s = time.monotonic() - started
    weights = result.run_dir / "weights" / "last.pt"
    candidate = export_onnx(
        config, weights, work / "candidate.onnx", imgsz=params.export_imgsz or entry.imgsz
    )
    report = run_gate(
        candidate=candidate,
        against=default,
        labels=("candidate", f"{entry.name}@{entry.version} (default)"),
        export_dir=work / "export",
        split="test",
        settings=settings,
        config=config,
        real_data=None,
    )
    gate_json, gate_md = report.write(work / "gate")
    real = [f for f in frames if f.real]
    hours = sum(f.seconds for f in real) / 3600.0
    holdout = (report.against.holdout, report.candidate.holdout)
    return LoopResult(
        cases=len(cases),
        review=tally,
        export=summary,
        candidate=candidate,
        default=default,
        gate_json=gate_json,
        gate_md=gate_md,
        gate_passed=report.passed,
        camera_hours=hours,
        false_default=false_boxes(default, real, settings.confidence, settings.iou),
        false_candidate=false_boxes(candidate, real, settings.confidence, settings.iou),
        holdout_map50_default=holdout[0].map50 if holdout[0] else float("nan"),
        holdout_map50_candidate=holdout[1].map50 if holdout[1] else float("nan"),
        train_s=train_s,
    )
