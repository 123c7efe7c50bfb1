"""The real dump-truck clip: yolox_nano (COCO) finds the truck pass on a road zone.

A phone video of an excavator loading soil into an open dump truck (``videos/
nuclea_dump-truck-loading-material.mp4`` in the shared data). In the full portrait frame no
COCO model finds the truck, so the virtual camera is the horizontal band around it
(rows 200..480), as a fixed camera's view of a haul road would be. The test asserts the pass
is found and judged once; what the cover classifier says is logged and reported in
``bench/RESULTS.md`` (bench/bench_rules.py), not asserted: it was trained on rendered trucks.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest

from edge.detectors import create_detector, parse_detector_config
from edge.detectors.labels import COCO_STREET_LABEL_MAP
from edge.rules import MuckTruckRule, RuleResources
from edge.rules.cover import OnnxCoverClassifier
from edge.rules.replay import replay_video
from zones.config import CameraZones

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

REPO = Path(__file__).resolve().parents[2]
CLIP = "videos/nuclea_dump-truck-loading-material.mp4"
ROI = (0, 200, 400, 480)
ZONES = CameraZones.model_validate(
    {
        "camera_id": "dump-truck",
        "zones": [
            {
                "id": "haul-road",
                "name": "Haul road by the loading point",
                "kind": "road",
                "polygon": [[0, 0.35], [1, 0.35], [1, 1], [0, 1]],
                "objects": ["truck"],
                "dwell_s": 0,
                "inertia": 2,
            }
        ],
    }
)

logger = logging.getLogger(__name__)


def test_truck_pass_is_found(shared_data: Path) -> None:
    detector = create_detector(
        parse_detector_config(
            {
                "type": "yolox",
                "path": str(shared_data / "weights/yolox_nano.onnx"),
                "confidence": 0.1,
            }
        )
    )
    cover = OnnxCoverClassifier(REPO / "models" / "cover-v1.onnx")
    result = replay_video(
        shared_data / CLIP,
        detector=detector,
        label_map=COCO_STREET_LABEL_MAP,
        zones=ZONES,
        resources=RuleResources(cover_classifier=cover),
        analysis_fps=5.0,
        roi=ROI,
    )
    assert result.engine is not None
    (rule,) = result.engine.rules
    assert isinstance(rule, MuckTruckRule)
    tracked = Counter(
        int(t)
        for f in result.detections
        for t, n in zip(f.detections.tracker_id, f.detections.class_name, strict=True)
        if t >= 0 and n == "truck"
    )
    assert tracked, "no truck track"
    main_track, frames = tracked.most_common(1)[0]
    assert frames >= 0.8 * result.frames  # one track follows the truck through the clip
    judged = rule.verdicts["covered"] + rule.verdicts["uncovered"]
    assert judged == 1 and rule.verdicts["undecided"] == 0, rule.verdicts
    starts = [r.event for r in result.events if r.event.phase.value == "start"]
    assert len(starts) == rule.verdicts["uncovered"]
    logger.info(
        "dump-truck clip: track %d on %d/%d frames, verdicts %s",
        main_track,
        frames,
        result.frames,
        rule.verdicts,
    )
