"""The default model (``default`` in ``models/registry.yaml``) through the yolo plugin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.detectors import OBJECT_NAMES, LabelMapConfig, create_detector, resolve_label_map
from edge.detectors.plugins.yolo import YoloConfig
from training.registry import default_model

MODEL = default_model()


@pytest.fixture(scope="module")
def model_path() -> Path:
    if not MODEL.is_file():
        pytest.skip(f"{MODEL} is not there yet (it is produced by the training issue)")
    return MODEL


def test_project_model_loads_and_speaks_object_names(model_path: Path) -> None:
    detector = create_detector(YoloConfig(path=model_path))
    assert detector.model.name == MODEL.stem
    assert set(detector.names) <= set(OBJECT_NAMES), detector.names
    lookup = resolve_label_map(LabelMapConfig(), detector.names)  # identity map suffices
    assert lookup.dropped == ()
    w, h = detector.input_size
    assert w % 32 == 0 and h % 32 == 0
    d = detector.detect(np.full((720, 1280, 3), 114, dtype=np.uint8))
    assert d.names == detector.names
