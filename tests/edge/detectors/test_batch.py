"""detect_batch gives each image what detect gives it, on the registered batch-axis models.

The images are frames of a rendered street scenario (a stall is set up on the pavement), so
the models find real boxes; the batch files are the registered v4 and v5 with a dynamic
batch axis (``training/batch_axis.py``). A batch-1 model runs the same call one image at a
time.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from edge.detectors import create_detector
from edge.detectors.base import BatchDetector
from edge.detectors.plugins.yolo import YoloConfig
from edge.registry import load_registry, verify_model
from edge.types import ImageArray
from training.scenes.scenarios import render_scenario

MODELS = Path(__file__).resolve().parents[3] / "models"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[ImageArray]:
    clip = tmp_path_factory.mktemp("batch") / "stall.mp4"
    render_scenario("stall_setup", clip, seconds=4, seed=7, fps=5, size=(640, 360))
    with av.open(str(clip)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    street = [np.asarray(f, dtype=np.uint8) for f in frames[::2]][:6]
    return [*street, np.zeros((240, 320, 3), np.uint8)]  # another size, and nothing in it


@pytest.mark.parametrize(
    ("file", "batched"),
    [
        ("civicwatch-street-v5-batch.onnx", True),
        ("civicwatch-street-v4-batch.onnx", True),
        ("civicwatch-street-v4-int8.onnx", True),
        ("civicwatch-street-v4.onnx", False),
    ],
)
def test_detect_batch_equals_detect(images: list[ImageArray], file: str, batched: bool) -> None:
    path = MODELS / file
    verify_model(path, load_registry(MODELS / "registry.yaml"))  # registered, sha256 checked
    detector = create_detector(YoloConfig(path=path, max_batch=4, warmup_runs=0))
    assert isinstance(detector, BatchDetector)
    assert detector.max_batch == (4 if batched else 1)
    together = detector.detect_batch(images)
    alone = [detector.detect(image) for image in images]
    assert sum(len(d) for d in alone) > 0, "the model found nothing: the test would prove little"
    for a, b in zip(together, alone, strict=True):
        assert a.names == b.names
        assert a.class_id.tolist() == b.class_id.tolist()
        np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)
        np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-4)


def test_detect_batch_of_nothing_and_of_a_bad_image() -> None:
    detector = create_detector(
        YoloConfig(path=MODELS / "civicwatch-street-v4-batch.onnx", warmup_runs=0)
    )
    assert isinstance(detector, BatchDetector)
    assert detector.detect_batch([]) == []
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        detector.detect_batch([np.zeros((8, 8), np.uint8)])


def test_closed_detector_refuses_to_run() -> None:
    from edge.detectors import DetectorError
    from edge.detectors.base import Releasable

    detector = create_detector(YoloConfig(path=MODELS / "civicwatch-street-v4.onnx"))
    assert isinstance(detector, Releasable)
    detector.close()
    with pytest.raises(DetectorError, match="closed"):
        detector.detect(np.zeros((64, 64, 3), np.uint8))
