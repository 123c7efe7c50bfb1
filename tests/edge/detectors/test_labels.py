"""Label maps: model classes -> the objects that zones and rules speak of."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from edge.detectors import (
    COCO80_NAMES,
    COCO_STREET_LABEL_MAP,
    OBJECT_NAMES,
    LabelMapConfig,
    LabelMapError,
    apply_label_map,
    resolve_label_map,
)
from edge.types import Detections
from zones.objects import KNOWN_OBJECTS

# Ultralytics spells some COCO classes differently from Darknet.
ULTRALYTICS_COCO = tuple(
    {"motorbike": "motorcycle", "aeroplane": "airplane", "sofa": "couch"}.get(n, n)
    .replace("diningtable", "dining table")
    .replace("pottedplant", "potted plant")
    .replace("tvmonitor", "tv")
    for n in COCO80_NAMES
)


def _detections(names: tuple[str, ...], rows: list[tuple[str, float]]) -> Detections:
    n = len(rows)
    return Detections(
        xyxy=np.arange(n * 4, dtype=np.float32).reshape(n, 4),
        confidence=np.array([c for _, c in rows], dtype=np.float32),
        class_id=np.array([names.index(name) for name, _ in rows], dtype=np.int64),
        names=names,
        tracker_id=np.arange(n, dtype=np.int64) + 100,
    )


def test_object_vocabulary_is_the_zones_one() -> None:
    assert OBJECT_NAMES == KNOWN_OBJECTS
    assert OBJECT_NAMES == ("person", "car", "truck", "stall", "goods", "bare_soil", "dust_net")


@pytest.mark.parametrize("coco", [COCO80_NAMES, ULTRALYTICS_COCO], ids=["darknet", "ultralytics"])
def test_coco_street_preset(coco: tuple[str, ...]) -> None:
    rows = [
        ("person", 0.9),
        ("dog", 0.8),
        ("bus", 0.7),
        ("umbrella", 0.3),
        (coco[60], 0.4),  # diningtable / dining table
        ("chair", 0.2),
        ("train", 0.5),
        ("car", 0.6),
        ("truck", 0.65),
        (coco[3], 0.5),  # motorbike: not an object, dropped
    ]
    out = apply_label_map(_detections(coco, rows), COCO_STREET_LABEL_MAP)
    assert out.names == OBJECT_NAMES
    assert out.class_name == ["person", "truck", "stall", "stall", "stall", "truck", "car", "truck"]
    assert out.confidence.tolist() == pytest.approx([0.9, 0.7, 0.3, 0.4, 0.2, 0.5, 0.6, 0.65])
    # boxes and track ids travel with their detections
    np.testing.assert_array_equal(out.xyxy[1], np.arange(8, 12))
    assert out.tracker_id.tolist() == [100, 102, 103, 104, 105, 106, 107, 108]


def test_identity_map_for_a_model_with_object_names() -> None:
    names = ("stall", "person", "Bare Soil", "tree")
    out = apply_label_map(
        _detections(names, [("person", 0.5), ("tree", 0.9), ("Bare Soil", 0.4), ("stall", 0.3)]),
        LabelMapConfig(),
    )
    assert out.class_name == ["person", "bare_soil", "stall"]
    assert out.class_id.tolist() == [0, 5, 3]


def test_identity_map_refuses_a_model_without_object_names() -> None:
    with pytest.raises(LabelMapError, match="none of the model's classes"):
        resolve_label_map(LabelMapConfig(), ("cat", "dog"))


def test_mapping_that_names_an_unknown_class_is_refused() -> None:
    label_map = LabelMapConfig(mapping={"umbrela": "stall", "person": "person"})
    with pytest.raises(LabelMapError, match=r"does not have: \['umbrela'\]"):
        resolve_label_map(label_map, COCO80_NAMES)


def test_min_confidence_per_object() -> None:
    label_map = LabelMapConfig(
        mapping={"person": "person", "umbrella": "stall"}, min_confidence={"person": 0.5}
    )
    rows = [("person", 0.4), ("person", 0.6), ("umbrella", 0.15)]
    out = apply_label_map(_detections(COCO80_NAMES, rows), label_map)
    assert out.class_name == ["person", "stall"]
    assert out.confidence.tolist() == pytest.approx([0.6, 0.15])


@pytest.mark.parametrize(
    "label_map", [COCO_STREET_LABEL_MAP, LabelMapConfig()], ids=["preset", "identity"]
)
def test_empty_detections(label_map: LabelMapConfig) -> None:
    out = apply_label_map(Detections.empty(COCO80_NAMES), label_map)
    assert len(out) == 0 and out.names == OBJECT_NAMES


def test_lookup_refuses_detections_of_another_model() -> None:
    lookup = resolve_label_map(COCO_STREET_LABEL_MAP, COCO80_NAMES)
    assert "dog" in lookup.dropped and "umbrella" not in lookup.dropped
    with pytest.raises(LabelMapError, match="other than those"):
        lookup.apply(Detections.empty(("stall",)))


BAD_MAPS = {
    "unknown object": ({"mapping": {"umbrella": "tent"}}, "unknown object 'tent'"),
    "empty mapping": ({"mapping": {}}, "at least 1"),
    "empty class name": ({"mapping": {"": "stall"}}, "at least 1 character"),
    "unknown key": ({"maping": {"umbrella": "stall"}}, "Extra inputs"),
    "floor above 1": ({"min_confidence": {"person": 1.5}}, "less than or equal"),
    "floor for unknown object": ({"min_confidence": {"tent": 0.5}}, "unknown object"),
}


@pytest.mark.parametrize(("data", "message"), list(BAD_MAPS.values()), ids=list(BAD_MAPS))
def test_bad_label_map_config(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LabelMapConfig.model_validate(data)
