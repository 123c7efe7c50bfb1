"""Real third-party COCO models on real images from ``../shared/data`` (skipped without it)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.detectors import (
    COCO80_NAMES,
    COCO_STREET_LABEL_MAP,
    OBJECT_NAMES,
    Detector,
    apply_label_map,
    create_detector,
    parse_detector_config,
)
from edge.types import Detections

pytestmark = pytest.mark.shared_data

MODELS = {
    "yolox": "yolox_nano.onnx",
    "nanodet": "nanodet_m.onnx",
    "fastestdet": "FastestDet.onnx",
}
BUS_BOX = np.array([15, 230, 805, 740], dtype=np.float32)  # the bus in bus.jpg, by eye


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
    iy = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
    inter = ix * iy
    return inter / float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _detector(shared_data: Path, type_: str, **extra: object) -> Detector:
    path = shared_data / "weights" / MODELS[type_]
    return create_detector(
        parse_detector_config({"type": type_, "path": str(path), "intra_op_threads": 1, **extra})
    )


def _image(shared_data: Path, name: str) -> np.ndarray:
    image = cv2.imread(str(shared_data / "images" / name))
    assert image is not None, f"cannot read {name}"
    return image


def test_coco_names_match_the_shared_list(shared_data: Path) -> None:
    text = (shared_data / "weights" / "coco.names").read_text(encoding="utf-8")
    assert tuple(line.strip() for line in text.splitlines() if line.strip()) == COCO80_NAMES


@pytest.mark.parametrize("type_", ["yolox", "nanodet", "fastestdet"])
def test_bus_and_people_in_bus_jpg(shared_data: Path, type_: str) -> None:
    image = _image(shared_data, "bus.jpg")
    detector = _detector(shared_data, type_)
    d = detector.detect(image)
    assert detector.names == COCO80_NAMES
    buses = d[np.array([n == "bus" for n in d.class_name], dtype=bool)]
    people = d[np.array([n == "person" for n in d.class_name], dtype=bool)]
    assert len(buses) >= 1, f"{type_} found no bus: {d.class_name}"
    assert max(_iou(b, BUS_BOX) for b in buses.xyxy) > 0.6
    assert len(people) >= 3, f"{type_} found {len(people)} people"
    # Everything inside the image, in its pixels.
    h, w = image.shape[:2]
    assert (d.xyxy >= 0).all() and (d.xyxy[:, [0, 2]] <= w).all() and (d.xyxy[:, [1, 3]] <= h).all()
    # The people stand in the lower half of the picture, left and right of the bus door.
    assert (people.bottom_center[:, 1] > h * 0.6).all()


def test_same_answer_for_the_same_image(shared_data: Path) -> None:
    image = _image(shared_data, "bus.jpg")
    detector = _detector(shared_data, "yolox")
    first, second = detector.detect(image), detector.detect(image.copy())
    np.testing.assert_array_equal(first.xyxy, second.xyxy)


@pytest.mark.parametrize("type_", ["nanodet", "fastestdet"])
def test_street_png_through_the_coco_street_map(shared_data: Path, type_: str) -> None:
    image = _image(shared_data, "street.png")  # 1441x731, vendor umbrellas on the right
    raw = _detector(shared_data, type_, confidence=0.1).detect(image)
    objects = apply_label_map(raw, COCO_STREET_LABEL_MAP)
    assert objects.names == OBJECT_NAMES
    assert set(objects.class_name) <= {"person", "car", "truck", "stall"}
    assert len(objects) < len(raw)  # traffic lights, bicycles, ... are dropped

    def of(name: str) -> Detections:
        return objects[np.array([n == name for n in objects.class_name], dtype=bool)]

    assert len(of("person")) >= 5
    taxi = np.array([110, 467, 442, 620], dtype=np.float32)  # the yellow taxi, by eye
    assert max(_iou(b, taxi) for b in of("car").xyxy) > 0.7
    # The stall umbrellas under the pharmacy sign, right of the centre.
    stalls = of("stall")
    centres = (stalls.xyxy[:, :2] + stalls.xyxy[:, 2:]) / 2
    in_market = (
        (centres[:, 0] > 950)
        & (centres[:, 0] < 1250)
        & (centres[:, 1] > 370)
        & (centres[:, 1] < 470)
    )
    assert in_market.any(), f"no stall near the vendor umbrellas: {stalls.xyxy.tolist()}"
