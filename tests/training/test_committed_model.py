"""The committed default model: registered, self-describing, and it finds the demo's stall."""

from __future__ import annotations

import ast
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from training.registry import DEFAULT_REGISTRY, default_model, load_registry, verify_model
from training.scenes.classes import CLASSES
from training.scenes.scenarios import render_scenario
from training.train import read_onnx_metadata

MODEL = default_model()


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_committed_model_is_registered_and_small() -> None:
    entry = verify_model(MODEL, load_registry(DEFAULT_REGISTRY))
    assert entry.classes == list(CLASSES)
    assert MODEL.stat().st_size < 10 * 1024 * 1024
    meta = read_onnx_metadata(MODEL)
    names = ast.literal_eval(meta["names"])
    assert [names[i] for i in sorted(names)] == list(CLASSES)
    assert ast.literal_eval(meta["imgsz"]) == [entry.imgsz, entry.imgsz]
    assert int(meta["stride"]) == 32


@pytest.mark.slow
def test_committed_model_finds_the_stall_in_the_demo_clip(tmp_path: Path) -> None:
    from edge.detectors.plugins.yolo import YoloConfig, YoloDetector

    clip = tmp_path / "stall_setup.mp4"
    truth = render_scenario("stall_setup", clip, seconds=12, seed=0, fps=5)
    (stall,) = truth.objects_of("stall")
    detector = YoloDetector(YoloConfig(path=MODEL, confidence=0.25))
    stall_id = CLASSES.index("stall")
    found_after, frames_after, false_before, frames_before = 0, 0, 0, 0
    with av.open(str(clip)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            image = np.ascontiguousarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
            detections = detector.detect(image)
            stall_boxes = [
                tuple(map(float, b))
                for b, c in zip(detections.xyxy, detections.class_id, strict=True)
                if c == stall_id
            ]
            t = index / truth.fps
            if t >= stall.appear_s + 1.5:
                frames_after += 1
                gt = next(b.xyxy for b in truth.frames[index].boxes if b.id == stall.id)
                if any(_iou(b, gt) >= 0.3 for b in stall_boxes):
                    found_after += 1
            elif t < stall.appear_s:
                frames_before += 1
                false_before += bool(stall_boxes)
    assert frames_after >= 30
    assert found_after / frames_after >= 0.9, f"stall found in {found_after}/{frames_after} frames"
    assert false_before <= frames_before // 2, (
        f"stall reported before it was set up: {false_before}"
    )


@pytest.mark.slow
def test_int8_copy_keeps_metadata_and_finds_the_same_objects(tmp_path: Path) -> None:
    from edge.detectors.plugins.yolo import YoloConfig, YoloDetector
    from training.quantize import quantize_int8
    from training.scenes.world import render_still

    images = []
    for i in range(8):
        path = tmp_path / f"calib{i}.png"
        cv2.imwrite(str(path), render_still((77, i), 640).image)
        images.append(path)
    imgsz = ast.literal_eval(read_onnx_metadata(MODEL)["imgsz"])[0]
    q = quantize_int8(MODEL, tmp_path / "int8.onnx", images, imgsz)
    assert q.stat().st_size < MODEL.stat().st_size / 2
    assert read_onnx_metadata(q)["names"] == read_onnx_metadata(MODEL)["names"]
    fp32 = YoloDetector(YoloConfig(path=MODEL, confidence=0.4))
    int8 = YoloDetector(YoloConfig(path=q, confidence=0.25))
    matched = total = 0
    for i in range(8, 14):
        image = render_still((77, i), 640).image
        a, b = fp32.detect(image), int8.detect(image)
        for box, cls in zip(a.xyxy, a.class_id, strict=True):
            total += 1
            matched += any(
                c == cls and _iou(tuple(box), tuple(o)) >= 0.5
                for o, c in zip(b.xyxy, b.class_id, strict=True)
            )
    assert total > 0
    assert matched / total >= 0.7, f"int8 kept {matched}/{total} fp32 detections"
