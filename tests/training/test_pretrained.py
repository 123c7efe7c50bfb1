"""The pretrained start: dequantised ONNX weights, re-head, config key (training.pretrained)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from pydantic import ValidationError

from edge.detectors import COCO80_NAMES
from training.config import PretrainedFromConfig, load_config
from training.pretrained import (
    INT8_BOX_TOLERANCE,
    INT8_SCORE_TOLERANCE,
    coco_checkpoint,
    compare_detections,
    rehead,
)
from training.scenes.classes import CLASSES
from training.scenes.world import render_still
from training.warmstart import WarmStartError, _network_input, _onnx_convolutions

REPO = Path(__file__).resolve().parents[2]
ARCH_N = REPO / "training" / "arch" / "civicwatch-street-n.yaml"
RECIPE = REPO / "training" / "recipes" / "street-v2" / "stage1-pretrained.yaml"


def _conv_graph(path: Path, weight: onnx.NodeProto | None, inits: list[TensorProto]) -> Path:
    """x (1, 2, 5, 5) -> Conv(W, b) -> y; W is ``w`` (float) or the output of ``weight``."""
    nodes = [weight] if weight is not None else []
    nodes.append(helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1]))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 5, 5])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[0])


@pytest.mark.parametrize(
    ("qtype", "zero_point", "per_channel"),
    [(np.int8, 0, True), (np.uint8, 128, False), (np.int8, -3, False)],
)
def test_qdq_weights_are_dequantised(
    tmp_path: Path, qtype: type[np.integer], zero_point: int, per_channel: bool
) -> None:
    rng = np.random.default_rng(0)
    info = np.iinfo(qtype)
    q = rng.integers(info.min, info.max + 1, size=(3, 2, 3, 3)).astype(qtype)
    scale = np.array([0.02, 0.005, 0.01] if per_channel else 0.01, dtype=np.float32)
    zp = np.full(scale.shape, zero_point, dtype=qtype)
    bias = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    inits = [
        numpy_helper.from_array(q, "conv.weight_quantized"),
        numpy_helper.from_array(scale, "conv.weight_scale"),
        numpy_helper.from_array(zp, "conv.weight_zero_point"),
        numpy_helper.from_array(bias, "b"),
    ]
    dq = helper.make_node(
        "DequantizeLinear",
        ["conv.weight_quantized", "conv.weight_scale", "conv.weight_zero_point"],
        ["w"],
        axis=0,
    )
    path = _conv_graph(tmp_path / "qdq.onnx", dq, inits)

    convs, _ = _onnx_convolutions(path)

    assert list(convs) == ["conv.weight"]
    shape = (-1, 1, 1, 1) if per_channel else ()
    expected = (q.astype(np.float32) - zero_point) * scale.reshape(shape)
    np.testing.assert_allclose(convs["conv.weight"].weight, expected, rtol=1e-6)
    np.testing.assert_array_equal(convs["conv.weight"].bias, bias)
    # the float graph with the dequantised weight computes what the QDQ graph computes
    float_path = _conv_graph(
        tmp_path / "float.onnx",
        None,
        [numpy_helper.from_array(expected, "w"), numpy_helper.from_array(bias, "b")],
    )
    x = rng.normal(size=(1, 2, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(_run(float_path, x), _run(path, x), atol=1e-5)


def test_dynamically_quantised_conv_integer_is_dequantised(tmp_path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    rng = np.random.default_rng(1)
    weight = rng.normal(scale=0.3, size=(3, 2, 3, 3)).astype(np.float32)
    bias = np.array([0.5, 0.0, -0.25], dtype=np.float32)
    inits = [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")]
    float_path = _conv_graph(tmp_path / "float.onnx", None, inits)
    int8_path = tmp_path / "int8.onnx"
    quantize_dynamic(str(float_path), str(int8_path), weight_type=QuantType.QUInt8)
    assert "ConvInteger" in {n.op_type for n in onnx.load(str(int8_path)).graph.node}

    convs, _ = _onnx_convolutions(int8_path)

    found = convs["w"]
    step = float(np.ptp(weight)) / 255  # one quantisation step of the per-tensor scale
    assert np.abs(found.weight - weight).max() <= step / 2 + 1e-6
    assert np.abs(found.weight - weight).max() > 0  # it is the 8-bit value, not the float one
    np.testing.assert_allclose(found.bias, bias, atol=1e-6)


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory, ultralytics_offline: Path) -> list[Path]:
    folder = tmp_path_factory.mktemp("calibration")
    paths = [folder / f"{i}.jpg" for i in range(4)]
    assert all(cv2.imwrite(str(p), render_still((78, i), 320).image) for i, p in enumerate(paths))
    return paths


@pytest.fixture(scope="module")
def coco_like(tmp_path_factory: pytest.TempPathFactory, calibration: list[Path]) -> Path:
    """An 80-class checkpoint of the YOLOv8n layout (random weights, COCO names)."""
    import torch
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    model = DetectionModel(cfg=str(ARCH_N), nc=80, verbose=False)  # type: ignore[no-untyped-call]
    model.names = dict(enumerate(COCO80_NAMES))
    path = tmp_path_factory.mktemp("coco") / "coco.pt"
    torch.save({"model": model, "train_args": {"imgsz": 320}}, path)
    return path


def _outputs(checkpoint: Path, images: list[Path]) -> tuple[object, np.ndarray]:
    import torch

    model = torch.load(checkpoint, map_location="cpu", weights_only=False)["model"].eval()
    x = torch.from_numpy(np.stack([_network_input(p, 320) for p in images]))
    with torch.no_grad():
        return model, model(x)[0].numpy()


def test_rehead_keeps_backbone_and_neck_and_starts_mapped_rows_from_coco(
    tmp_path: Path, coco_like: Path, calibration: list[Path]
) -> None:
    class_map = {"person": "person", "car": "car", "truck": "truck"}
    out = rehead(coco_like, ARCH_N, tmp_path / "7.pt", class_map, calibration)

    old, old_out = _outputs(coco_like, calibration)
    new, new_out = _outputs(out, calibration)
    assert new.names == dict(enumerate(CLASSES))  # type: ignore[attr-defined]
    old_state = old.state_dict()  # type: ignore[attr-defined]
    head = len(new.model) - 1  # type: ignore[attr-defined]
    kept = 0
    for key, value in new.state_dict().items():  # type: ignore[attr-defined]
        if not key.startswith(f"model.{head}.cv3."):
            assert np.array_equal(value.numpy(), old_state[key].numpy()), key
            kept += 1
    assert kept > 300
    np.testing.assert_array_equal(new_out[:, :4], old_out[:, :4])  # the same boxes
    assert new_out.shape[1] == 4 + len(CLASSES)
    for name, coco in class_map.items():  # rows start from COCO's scores
        ours = new_out[:, 4 + CLASSES.index(name)]
        theirs = old_out[:, 4 + COCO80_NAMES.index(coco)]
        assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] > 0.9, name
        assert np.abs(ours - theirs).mean() < 0.02, name
    for name in ("stall", "goods", "bare_soil", "dust_net"):  # fresh rows: the prior, near 0
        assert new_out[:, 4 + CLASSES.index(name)].max() < 0.02


def test_rehead_without_a_map_keeps_no_class_row(
    tmp_path: Path, coco_like: Path, calibration: list[Path]
) -> None:
    out = rehead(coco_like, ARCH_N, tmp_path / "7.pt", {}, calibration)
    _, scores = _outputs(out, calibration)
    assert scores[:, 4:].max() < 0.02


@pytest.mark.parametrize(
    ("class_map", "message"),
    [
        ({"umbrella": "umbrella"}, "unknown class 'umbrella'"),
        ({"stall": "market stall"}, "no class 'market stall'"),
    ],
)
def test_rehead_refuses_unknown_names(
    tmp_path: Path,
    coco_like: Path,
    calibration: list[Path],
    class_map: dict[str, str],
    message: str,
) -> None:
    with pytest.raises(WarmStartError, match=message):
        rehead(coco_like, ARCH_N, tmp_path / "7.pt", class_map, calibration)


def test_rehead_refuses_another_width(
    tmp_path: Path, coco_like: Path, calibration: list[Path]
) -> None:
    narrow = REPO / "training" / "arch" / "civicwatch-street.yaml"  # width 0.1875
    with pytest.raises(WarmStartError, match="no place of shape"):
        rehead(coco_like, narrow, tmp_path / "7.pt", {"car": "car"}, calibration)


@pytest.mark.parametrize(
    ("mapping", "error"),
    [
        ({"person": "person", "car": "car", "truck": "truck"}, None),
        ({}, None),
        ({"lorry": "truck"}, "unknown class 'lorry'"),
        ({"truck": " "}, "empty class name"),
    ],
)
def test_pretrained_from_map_names_project_classes(
    mapping: dict[str, str], error: str | None
) -> None:
    if error is None:
        assert PretrainedFromConfig(onnx=Path("m.onnx"), map=mapping).map == mapping
    else:
        with pytest.raises(ValidationError, match=error):
            PretrainedFromConfig(onnx=Path("m.onnx"), map=mapping)


def test_pretrained_from_refuses_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        PretrainedFromConfig.model_validate({"onnx": "m.onnx", "maps": {}})


def test_recipe_starts_from_the_shared_int8_yolov8n(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CIVICWATCH_SHARED_DATA", str(tmp_path))
    config = load_config(RECIPE)
    assert config.pretrained_from is not None
    assert config.pretrained_from.onnx == tmp_path / "weights" / "yolov8n_int8.onnx"
    assert config.pretrained_from.map == {"person": "person", "car": "car", "truck": "truck"}
    assert config.model == ARCH_N
    assert config.train.imgsz == 416
    assert config.real_backgrounds is not None
    assert config.real_backgrounds.root.is_absolute()


@pytest.mark.shared_data
@pytest.mark.slow
def test_dequantised_yolov8n_matches_the_int8_file(
    shared_data: Path, tmp_path: Path, ultralytics_offline: Path
) -> None:
    from training.train import export_onnx

    int8 = shared_data / "weights" / "yolov8n_int8.onnx"
    photos = [
        shared_data / "images" / "bus.jpg",
        shared_data / "images" / "street.png",
        *sorted((shared_data / "images" / "construction_dust").glob("*.jpg")),
    ]
    # export_onnx sets ultralytics up as its config says: the folder this process already uses
    config = load_config(RECIPE).model_copy(
        update={"config_dir": Path(os.environ["YOLO_CONFIG_DIR"]), "runs_dir": tmp_path / "runs"}
    )
    checkpoint, agreement = coco_checkpoint(int8, ARCH_N, tmp_path / "coco.pt", photos)
    assert agreement.images == len(photos)
    assert agreement.max_score_difference <= INT8_SCORE_TOLERANCE
    assert agreement.max_box_difference <= INT8_BOX_TOLERANCE

    exported = export_onnx(config, checkpoint, tmp_path / "coco.onnx", imgsz=640)
    found = compare_detections(int8, exported, photos)
    assert found.reference >= 20  # people, cars, the bus: the photos are not empty
    assert found.matched_fraction >= 0.9
    assert found.min_iou >= 0.8
    assert found.max_score_difference <= 0.15
