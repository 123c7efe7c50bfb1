"""Each plugin end to end through onnxruntime, on tiny ONNX models with fixed outputs."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from edge.detectors import Detector, DetectorError, create_detector
from edge.detectors.plugins.fastestdet import FastestDetConfig
from edge.detectors.plugins.nanodet import NanodetConfig
from edge.detectors.plugins.yolo import YoloConfig, parse_ultralytics_metadata
from edge.detectors.plugins.yolox import YoloxConfig
from tests.edge.detectors.conftest import OnnxFactory

NAMES_META = "{0: 'stall', 1: 'person'}"
ULTRALYTICS_META = {
    "names": NAMES_META,
    "imgsz": "[64, 96]",
    "stride": "32",
    "task": "detect",
    "end2end": "False",
    "model_version": "7",
}


def _yolo_head(columns: list[list[float]]) -> np.ndarray:
    return np.array(columns, dtype=np.float32).T[None]  # (1, 6, N)


# Network input 96x64. A 200x100 image is letterboxed at scale 0.48 with 8 px above.
YOLO_HEAD = _yolo_head(
    [
        [48, 32, 20, 10, 0.9, 0.1],  # stall 0.9
        [50, 32, 20, 10, 0.8, 0.0],  # stall 0.8, IoU 0.82 with the first: suppressed
        [50, 32, 20, 10, 0.0, 0.7],  # person 0.7 on the same spot: another class, kept
        [10, 3, 8, 6, 0.95, 0.0],  # inside the top padding: nothing left after clipping
    ]
)


def _image(w: int, h: int) -> np.ndarray:
    return np.full((h, w, 3), 60, dtype=np.uint8)


@pytest.fixture
def yolo_model(make_onnx: OnnxFactory) -> Path:
    return make_onnx(
        "street-v1.onnx",
        input_shape=(1, 3, 64, 96),
        outputs={"output0": YOLO_HEAD},
        metadata=ULTRALYTICS_META,
    )


def test_yolo_plugin_end_to_end(yolo_model: Path) -> None:
    detector = create_detector(YoloConfig(path=yolo_model))
    assert isinstance(detector, Detector)
    assert detector.names == ("stall", "person")
    assert detector.input_size == (96, 64)
    assert detector.providers == ("CPUExecutionProvider",)
    assert detector.model.name == "street-v1"
    assert detector.model.version == "7"
    assert detector.model.sha256 == hashlib.sha256(yolo_model.read_bytes()).hexdigest()

    d = detector.detect(_image(200, 100))
    assert d.class_name == ["stall", "person"]
    assert d.confidence.tolist() == pytest.approx([0.9, 0.7])
    np.testing.assert_allclose(
        d.xyxy,
        [
            [38 / 0.48, 19 / 0.48, 58 / 0.48, 29 / 0.48],
            [40 / 0.48, 19 / 0.48, 60 / 0.48, 29 / 0.48],
        ],
        rtol=1e-5,
    )


def test_yolo_thresholds_and_limits_from_config(yolo_model: Path) -> None:
    image = _image(200, 100)
    high = create_detector(YoloConfig(path=yolo_model, confidence=0.75, warmup_runs=0))
    assert high.detect(image).class_name == ["stall"]
    loose = create_detector(YoloConfig(path=yolo_model, iou=0.9, warmup_runs=0))
    assert loose.detect(image).confidence.tolist() == pytest.approx([0.9, 0.8, 0.7])
    one = create_detector(YoloConfig(path=yolo_model, max_detections=1, warmup_runs=0))
    assert len(one.detect(image)) == 1


def test_identity_overrides(yolo_model: Path) -> None:
    detector = create_detector(YoloConfig(path=yolo_model, name="street", version="2024.1"))
    assert (detector.model.name, detector.model.version) == ("street", "2024.1")


def test_detect_timed_matches_detect(yolo_model: Path) -> None:
    from edge.detectors import OnnxDetector

    detector = create_detector(YoloConfig(path=yolo_model))
    assert isinstance(detector, OnnxDetector)
    timed = detector.detect_timed(_image(200, 100))
    assert timed.detections.confidence.tolist() == pytest.approx([0.9, 0.7])
    assert min(timed.preprocess_s, timed.inference_s, timed.postprocess_s) >= 0.0
    raw = detector.onnx.run(detector.preprocess(_image(200, 100)).tensor)
    np.testing.assert_allclose(raw[0], YOLO_HEAD)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((10, 10), np.uint8), "HxWx3 uint8"),
        (np.zeros((10, 10, 4), np.uint8), "HxWx3 uint8"),
        (np.zeros((10, 10, 3), np.float32), "HxWx3 uint8"),
        (np.zeros((0, 10, 3), np.uint8), "empty"),
    ],
    ids=["grey", "bgra", "float", "empty"],
)
def test_bad_image_is_refused(yolo_model: Path, image: np.ndarray, message: str) -> None:
    detector = create_detector(YoloConfig(path=yolo_model, warmup_runs=0))
    with pytest.raises(ValueError, match=message):
        detector.detect(image)


def test_yolo_dynamic_input_uses_metadata_size(make_onnx: OnnxFactory) -> None:
    path = make_onnx(
        input_shape=(1, 3, "height", "width"),
        outputs={"output0": YOLO_HEAD},
        metadata=ULTRALYTICS_META,
    )
    detector = create_detector(YoloConfig(path=path))
    assert detector.input_size == (96, 64)
    assert detector.detect(_image(200, 100)).class_name == ["stall", "person"]


def test_yolo_end2end_export_skips_nms(make_onnx: OnnxFactory) -> None:
    rows = np.array(
        [[[10, 18, 30, 28, 0.9, 1], [11, 18, 31, 28, 0.8, 1], [0, 0, 5, 5, 0.1, 0]]],
        dtype=np.float32,
    )
    path = make_onnx(
        input_shape=(1, 3, 64, 96),
        outputs={"output0": rows},
        metadata={**ULTRALYTICS_META, "end2end": "True"},
    )
    d = create_detector(YoloConfig(path=path)).detect(_image(200, 100))
    assert d.class_name == ["person", "person"]  # overlapping, both kept: no second NMS
    np.testing.assert_allclose(d.xyxy[0], [10 / 0.48, 10 / 0.48, 30 / 0.48, 20 / 0.48])


BAD_YOLO = {
    "no metadata": ({}, {"output0": YOLO_HEAD}, "no 'names'"),
    "no imgsz": (
        {"names": NAMES_META, "stride": "32"},
        {"output0": YOLO_HEAD},
        "no 'imgsz'",
    ),
    "names not a literal": (
        {**ULTRALYTICS_META, "names": "{0: stall}"},
        {"output0": YOLO_HEAD},
        "'names' is not a Python literal",
    ),
    "code in names is never run": (
        {**ULTRALYTICS_META, "names": "__import__('os').getcwd()"},
        {"output0": YOLO_HEAD},
        "'names' is not a Python literal",
    ),
    "names with a gap": (
        {**ULTRALYTICS_META, "names": "{0: 'stall', 2: 'person'}"},
        {"output0": YOLO_HEAD},
        "class ids 0..n-1",
    ),
    "segmentation model": (
        {**ULTRALYTICS_META, "task": "segment"},
        {"output0": YOLO_HEAD},
        "task is 'segment'",
    ),
    "imgsz disagrees with the input": (
        {**ULTRALYTICS_META, "imgsz": "[64, 64]"},
        {"output0": YOLO_HEAD},
        "metadata 'imgsz' says",
    ),
    "output rows do not fit the names": (
        {**ULTRALYTICS_META, "names": "{0: 'stall', 1: 'person', 2: 'car'}"},
        {"output0": YOLO_HEAD},
        r"expected \(1, 7, N\) for 3 classes",
    ),
    "two outputs": (
        ULTRALYTICS_META,
        {"output0": YOLO_HEAD, "output1": YOLO_HEAD},
        "expected one output",
    ),
}


@pytest.mark.parametrize(
    ("metadata", "outputs", "message"), list(BAD_YOLO.values()), ids=list(BAD_YOLO)
)
def test_bad_yolo_model_is_refused_naming_the_file(
    make_onnx: OnnxFactory,
    metadata: dict[str, str],
    outputs: dict[str, np.ndarray],
    message: str,
) -> None:
    path = make_onnx(
        "bad-export.onnx", input_shape=(1, 3, 64, 96), outputs=outputs, metadata=metadata
    )
    with pytest.raises(DetectorError, match=message) as info:
        create_detector(YoloConfig(path=path))
    assert "bad-export.onnx" in str(info.value)


@pytest.mark.parametrize(
    ("metadata", "imgsz_hw", "names", "end2end"),
    [
        (ULTRALYTICS_META, (64, 96), ("stall", "person"), False),
        ({**ULTRALYTICS_META, "imgsz": "320"}, (320, 320), ("stall", "person"), False),
        ({**ULTRALYTICS_META, "names": "['a', 'b', 'c']"}, (64, 96), ("a", "b", "c"), False),
        ({**ULTRALYTICS_META, "end2end": "True"}, (64, 96), ("stall", "person"), True),
        (
            {**ULTRALYTICS_META, "args": "{'nms': True, 'batch': 1}"},
            (64, 96),
            ("stall", "person"),
            True,
        ),
        (
            {"names": NAMES_META, "imgsz": "[64, 96]", "stride": "32"},
            (64, 96),
            ("stall", "person"),
            False,
        ),
    ],
    ids=["plain", "square int imgsz", "names list", "end2end", "exported with nms", "minimal"],
)
def test_parse_ultralytics_metadata(
    metadata: dict[str, str],
    imgsz_hw: tuple[int, int],
    names: tuple[str, ...],
    end2end: bool,
) -> None:
    meta = parse_ultralytics_metadata(metadata, Path("m.onnx"))
    assert (meta.imgsz_hw, meta.names, meta.end2end, meta.stride) == (imgsz_hw, names, end2end, 32)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"names": "{}"}, "non-empty"),
        ({"names": "{0: ''}"}, "non-empty"),
        ({"names": "'person'"}, "must be a dict or list"),
        ({"imgsz": "[64]"}, "must be \\[h, w\\]"),
        ({"imgsz": "[0, 64]"}, "positive"),
        ({"stride": "'32'"}, "positive int"),
        ({"stride": "0"}, "positive int"),
    ],
)
def test_parse_ultralytics_metadata_refuses(override: dict[str, str], message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        parse_ultralytics_metadata({**ULTRALYTICS_META, **override}, Path("m.onnx"))


# --- YOLOX ------------------------------------------------------------------------


@pytest.fixture
def two_names(tmp_path: Path) -> Path:
    path = tmp_path / "two.names"
    path.write_text("stall\nperson\n\n", encoding="utf-8")
    return path


def _yolox_head() -> np.ndarray:
    output = np.zeros((1, 10, 7), np.float32)
    output[0, 3] = [0.5, 0.25, math.log(2.0), 0.0, 0.9, 0.2, 0.5]
    output[0, 9] = [0.0, 0.0, 0.0, 0.0, 0.5, 0.8, 0.1]
    return output


def test_yolox_plugin_end_to_end(make_onnx: OnnxFactory, two_names: Path) -> None:
    path = make_onnx(input_shape=(1, 3, 64, 32), outputs={"output": _yolox_head()})
    detector = create_detector(
        YoloxConfig(path=path, names_file=two_names, strides=(16, 32), confidence=0.3)
    )
    assert detector.names == ("stall", "person") and detector.input_size == (32, 64)
    assert detector.model.version == "unversioned"
    d = detector.detect(_image(32, 64))  # same size: the letterbox is the identity
    np.testing.assert_allclose(d.xyxy, [[8, 12, 32, 28], [0, 16, 16, 48]], atol=1e-4)
    assert d.class_name == ["person", "stall"]
    # Top-left letterbox: a 16x64 image fills the left half, boxes scale 1:1.
    d = detector.detect(_image(16, 64))
    np.testing.assert_allclose(d.xyxy, [[8, 12, 16, 28], [0, 16, 16, 48]], atol=1e-4)


@pytest.mark.parametrize(
    ("strides", "names", "message"),
    [
        ((16, 32), None, "predicts 2 classes but the default COCO-80 list has 80"),
        ((8, 16, 32), "two", "has 10 rows but strides \\[8, 16, 32\\] .* give 42 cells"),
    ],
)
def test_bad_yolox_model_is_refused(
    make_onnx: OnnxFactory,
    two_names: Path,
    strides: tuple[int, ...],
    names: str | None,
    message: str,
) -> None:
    path = make_onnx(
        "yolox-bad.onnx", input_shape=(1, 3, 64, 32), outputs={"output": _yolox_head()}
    )
    config = YoloxConfig(path=path, strides=strides, names_file=two_names if names else None)
    with pytest.raises(DetectorError, match=message) as info:
        create_detector(config)
    assert "yolox-bad.onnx" in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "empty"), ("a\nb\na\n", "repeated: \\['a'\\]")],
)
def test_bad_names_file(make_onnx: OnnxFactory, tmp_path: Path, content: str, message: str) -> None:
    names = tmp_path / "bad.names"
    names.write_text(content, encoding="utf-8")
    path = make_onnx(input_shape=(1, 3, 64, 32), outputs={"output": _yolox_head()})
    with pytest.raises(DetectorError, match=message):
        create_detector(YoloxConfig(path=path, names_file=names, strides=(16, 32)))


def test_missing_names_file(make_onnx: OnnxFactory, tmp_path: Path) -> None:
    path = make_onnx(input_shape=(1, 3, 64, 32), outputs={"output": _yolox_head()})
    with pytest.raises(DetectorError, match=r"absent\.names: cannot read class names"):
        create_detector(
            YoloxConfig(path=path, names_file=tmp_path / "absent.names", strides=(16, 32))
        )


# --- NanoDet ----------------------------------------------------------------------


def _nanodet_outputs() -> dict[str, np.ndarray]:
    cls8, reg8 = np.zeros((1, 16, 2), np.float32), np.zeros((1, 16, 16), np.float32)
    cls16, reg16 = np.zeros((1, 4, 2), np.float32), np.zeros((1, 4, 16), np.float32)
    cls8[0, 5] = [0.1, 0.7]
    logits = np.full((4, 4), -50.0, np.float32)
    for side, b in enumerate([1, 2, 3, 0]):
        logits[side, b] = 50.0
    reg8[0, 5] = logits.reshape(-1)
    cls16[0, 0] = [0.6, 0.2]
    # Shuffled, with meaningless names: outputs are picked by shape.
    return {"792": reg16, "814": cls8, "836": reg8, "839": cls16}


def test_nanodet_plugin_end_to_end(make_onnx: OnnxFactory, two_names: Path) -> None:
    path = make_onnx(input_shape=(1, 3, 32, 32), outputs=_nanodet_outputs(), input_name="input.1")
    detector = create_detector(
        NanodetConfig(path=path, names_file=two_names, strides=(8, 16), reg_max=3, confidence=0.5)
    )
    d = detector.detect(_image(64, 64))  # plain resize at scale 0.5
    np.testing.assert_allclose(d.xyxy, [[7, 0, 64, 23], [0, 0, 63, 63]], atol=1e-3)
    assert d.class_name == ["person", "stall"]


def test_nanodet_missing_level_is_refused(make_onnx: OnnxFactory, two_names: Path) -> None:
    outputs = _nanodet_outputs()
    del outputs["839"]
    path = make_onnx("nanodet-bad.onnx", input_shape=(1, 3, 32, 32), outputs=outputs)
    with pytest.raises(DetectorError, match=r"nanodet-bad\.onnx: for stride 16 expected"):
        create_detector(NanodetConfig(path=path, names_file=two_names, strides=(8, 16), reg_max=3))


def test_nanodet_wrong_reg_max_is_refused(make_onnx: OnnxFactory, two_names: Path) -> None:
    path = make_onnx(input_shape=(1, 3, 32, 32), outputs=_nanodet_outputs())
    with pytest.raises(DetectorError, match="check strides, reg_max"):
        create_detector(NanodetConfig(path=path, names_file=two_names, strides=(8, 16), reg_max=7))


# --- FastestDet -------------------------------------------------------------------


def test_fastestdet_plugin_end_to_end(make_onnx: OnnxFactory, two_names: Path) -> None:
    output = np.zeros((1, 7, 2, 4), np.float32)
    output[0, :, 1, 2] = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    output[0, :, 0, 0] = [0.5, math.atanh(0.5), 0.0, math.log(0.25 / 0.75), 0.0, 0.5, 0.1]
    path = make_onnx(input_shape=(1, 3, 20, 40), outputs={"758": output})
    detector = create_detector(FastestDetConfig(path=path, names_file=two_names, confidence=0.4))
    d = detector.detect(_image(80, 40))  # plain resize at scale 0.5
    np.testing.assert_allclose(d.xyxy, [[20, 10, 60, 30], [0, 0, 20, 10]], atol=1e-3)
    assert d.class_name == ["person", "stall"]


def test_fastestdet_wrong_output_is_refused(make_onnx: OnnxFactory) -> None:
    path = make_onnx(
        "fd-bad.onnx", input_shape=(1, 3, 20, 40), outputs={"o": np.zeros((1, 85, 4), np.float32)}
    )
    with pytest.raises(DetectorError, match=r"fd-bad\.onnx: output 'o' has shape"):
        create_detector(FastestDetConfig(path=path))
