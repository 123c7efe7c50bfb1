"""The class vocabulary: the zones' objects, in the order every registered model was trained."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from training.scenes.classes import CLASSES, class_id
from zones.objects import KNOWN_OBJECTS

REGISTRY = Path(__file__).resolve().parents[3] / "models" / "registry.yaml"


def test_classes_are_the_zone_objects() -> None:
    assert CLASSES is KNOWN_OBJECTS
    assert len(set(CLASSES)) == len(CLASSES)


def _detectors() -> list[dict[str, object]]:
    entries = yaml.safe_load(REGISTRY.read_text(encoding="utf-8"))["models"]
    return [e for e in entries if e.get("task", "detect") == "detect"]


def test_every_registered_detector_uses_this_order() -> None:
    detectors = _detectors()
    assert detectors, f"no detector in {REGISTRY}"
    for entry in detectors:
        assert entry["classes"] == list(CLASSES), entry["file"]


@pytest.mark.parametrize(("index", "name"), list(enumerate(CLASSES)))
def test_class_id_is_the_index(index: int, name: str) -> None:
    assert class_id(name) == index


@pytest.mark.parametrize("name", ["", "Stall", "umbrella"])
def test_unknown_class(name: str) -> None:
    with pytest.raises(ValueError, match="unknown class"):
        class_id(name)
