import hashlib
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from contracts import EvidenceKind
from edge.evidence import Annotation, EvidenceConfig, crop_box, json_item, snapshot_set

TS = datetime(2026, 11, 27, 4, 0, 0, tzinfo=UTC)


def _image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)


def _annotation(box: list[float]) -> Annotation:
    return Annotation(
        zone_polygon_px=np.array([[0, 200], [640, 200], [640, 360], [0, 360]], np.float32),
        zone_label="market-st",
        box_xyxy=np.array(box, np.float32),
        box_label="stall 0.91",
    )


def test_snapshot_set_hashes_and_decodes() -> None:
    items = snapshot_set(_image(), _annotation([100, 220, 180, 300]), TS, EvidenceConfig())
    assert [i.kind for i in items] == [
        EvidenceKind.FRAME,
        EvidenceKind.ANNOTATED,
        EvidenceKind.CROP,
    ]
    for item in items:
        assert item.sha256 == hashlib.sha256(item.data).hexdigest()
        ref = item.ref()
        assert ref.byte_size == len(item.data)
        decoded = cv2.imdecode(np.frombuffer(item.data, np.uint8), cv2.IMREAD_COLOR)
        assert decoded is not None
    frame = cv2.imdecode(np.frombuffer(items[0].data, np.uint8), cv2.IMREAD_COLOR)
    marked = cv2.imdecode(np.frombuffer(items[1].data, np.uint8), cv2.IMREAD_COLOR)
    assert frame is not None and marked is not None
    assert frame.shape == marked.shape == (360, 640, 3)
    assert items[0].sha256 != items[1].sha256  # the annotation changed pixels


@pytest.mark.parametrize(
    ("box", "shape"),
    [
        ([100, 100, 200, 200], (130, 130)),  # 100 px box + 15 % each side
        ([0, 0, 10, 10], (37, 37)),  # small box: min side 64, clipped at the corner
        ([630, 350, 640, 360], (37, 37)),  # clipped at the far corner
    ],
)
def test_crop_box(box: list[float], shape: tuple[int, int]) -> None:
    crop = crop_box(_image(), np.array(box, np.float32), 0.15, 64)
    assert crop.shape[:2] == shape


def test_crop_outside_frame_is_an_error() -> None:
    with pytest.raises(ValueError, match="outside"):
        crop_box(_image(), np.array([700, 400, 800, 500], np.float32), 0.1, 8)


def test_json_item_is_canonical() -> None:
    a = json_item(EvidenceKind.SENSOR_SERIES, {"b": 1, "a": [1.5, 2]}, TS)
    b = json_item(EvidenceKind.SENSOR_SERIES, {"a": [1.5, 2], "b": 1}, TS)
    assert a.sha256 == b.sha256
    assert a.content_type == "application/json"
