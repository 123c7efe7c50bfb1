"""CameraPipeline: rule events become wire events with evidence, enqueued atomically.

The detector here is scripted (a ``Detector`` whose boxes the test decides), so the test
checks the pipeline's own logic; the real model runs in the end-to-end test.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from contracts import EventPhase, EvidenceKind, ModelRef, ViolationType, ZoneEvent
from edge.config import EdgeConfig
from edge.outbox import Outbox
from edge.types import Detections, Frame, ImageArray
from edge.worker import CameraPipeline
from zones.config import parse_zone_text

ZONES = """
camera_id: cam-1
zones:
  - id: pavement
    name: Pavement
    kind: no_vending
    polygon: [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]
    objects: [stall]
    dwell_s: 5
    inertia: 2
"""
T0 = datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC)  # 10:00 in Shanghai
NAMES = ("person", "car", "truck", "stall", "goods", "bare_soil", "dust_net")


class ScriptedDetector:
    """Returns a stall box from frame ``appear`` on (and nothing before)."""

    names = NAMES
    model = ModelRef(name="scripted", version="1", sha256="0" * 64)
    input_size = (320, 320)
    providers = ("CPUExecutionProvider",)

    def __init__(self, appear: int) -> None:
        self.appear = appear
        self.calls = 0

    def detect(self, image: ImageArray) -> Detections:
        self.calls += 1
        if self.calls <= self.appear:
            return Detections.empty(NAMES)
        return Detections(
            xyxy=np.array([[200, 250, 300, 400]], np.float32),
            confidence=np.array([0.8], np.float32),
            class_id=np.array([3], np.int64),
            names=NAMES,
        )


def _config(tmp_path: Path) -> EdgeConfig:
    return EdgeConfig.model_validate(
        {
            "edge_id": "edge-1",
            "detector": {"type": "yolo", "path": str(tmp_path / "unused.onnx")},
            "model_registry": None,
            "outbox_path": str(tmp_path / "outbox.db"),
            "cameras": [
                {
                    "id": "cam-1",
                    "source": {"type": "file", "path": str(tmp_path / "x.mp4")},
                    "zones": str(tmp_path / "zones.yaml"),
                }
            ],
        }
    )


def _frames(n: int) -> list[Frame]:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    return [Frame("cam-1", i, T0 + timedelta(seconds=0.5 * i), image) for i in range(n)]


@pytest.fixture
def pipeline(tmp_path: Path) -> CameraPipeline:
    config = _config(tmp_path)
    return CameraPipeline(
        config=config,
        camera=config.cameras[0],
        zones=parse_zone_text(ZONES, source=Path("zones.yaml")),
        detector=ScriptedDetector(appear=4),
        outbox=Outbox(config.outbox_path),
    )


def test_no_detections_no_messages(tmp_path: Path) -> None:
    config = _config(tmp_path)
    pipe = CameraPipeline(
        config=config,
        camera=config.cameras[0],
        zones=parse_zone_text(ZONES, source=Path("zones.yaml")),
        detector=ScriptedDetector(appear=10_000),
        outbox=Outbox(config.outbox_path),
    )
    for frame in _frames(20):
        assert pipe.process(frame) == []
    assert pipe.outbox.count() == 0
    assert pipe.times.frames == 20


def test_stall_start_with_evidence_before_event(pipeline: CameraPipeline) -> None:
    events = [e for f in _frames(30) for e in pipeline.process(f)]
    assert [e.phase for e in events] == [EventPhase.START]
    event = events[0]
    assert event.violation_type is ViolationType.STREET_STALL
    assert event.zone_id == "pavement" and event.label == "stall"
    assert event.dwell_s >= 5
    assert event.box.x1 == pytest.approx(200 / 640)
    assert event.box.y2 == pytest.approx(400 / 480)
    kinds = [ref.kind for ref in event.evidence]
    assert kinds == [EvidenceKind.FRAME, EvidenceKind.ANNOTATED, EvidenceKind.CROP]

    messages = pipeline.outbox.pending()
    assert len(messages) == 4
    *evidence, wire = messages
    assert wire.topic == "civicwatch/v1/edges/edge-1/events/cam-1"
    assert ZoneEvent.from_json(wire.payload) == event
    for ref, msg in zip(event.evidence, evidence, strict=True):
        assert msg.topic.endswith(f"/evidence/{ref.sha256}")
        assert hashlib.sha256(msg.payload).hexdigest() == ref.sha256
        assert len(msg.payload) == ref.byte_size
        assert msg.content_type == "image/jpeg"


def test_zone_file_for_another_camera_is_refused(tmp_path: Path) -> None:
    config = _config(tmp_path)
    other = parse_zone_text(ZONES.replace("cam-1", "cam-9"), source=Path("z.yaml"))
    with pytest.raises(ValueError, match="cam-9"):
        CameraPipeline(
            config=config,
            camera=config.cameras[0],
            zones=other,
            detector=ScriptedDetector(appear=0),
            outbox=Outbox(config.outbox_path),
        )
