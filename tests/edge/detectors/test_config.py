"""Detector configs, the plugin registry, provider choice and loading errors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from edge.detectors import (
    DetectorConfig,
    DetectorError,
    available_detector_types,
    create_detector,
    parse_detector_config,
    resolve_providers,
)
from edge.detectors.plugins.fastestdet import FastestDetConfig
from edge.detectors.plugins.nanodet import NanodetConfig
from edge.detectors.plugins.yolo import YoloConfig
from edge.detectors.plugins.yolox import YoloxConfig

CPU, CUDA, TRT = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"


def test_all_builtin_plugins_are_registered() -> None:
    assert available_detector_types() == ("fastestdet", "nanodet", "yolo", "yolox")


@pytest.mark.parametrize(
    ("type_", "cls"),
    [
        ("yolo", YoloConfig),
        ("yolox", YoloxConfig),
        ("nanodet", NanodetConfig),
        ("fastestdet", FastestDetConfig),
    ],
)
def test_type_selects_the_plugin_config(type_: str, cls: type[BaseModel]) -> None:
    config = parse_detector_config({"type": type_, "path": "m.onnx"})
    assert type(config) is cls
    assert config.providers == ["cpu"]
    assert config.confidence == 0.25


BAD_CONFIGS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown type": ({"type": "ssd", "path": "m.onnx"}, "does not match any of the expected"),
    "no type": ({"path": "m.onnx"}, "Unable to extract tag using discriminator"),
    "no path": ({"type": "yolo"}, "path"),
    "unknown key": ({"type": "yolo", "path": "m.onnx", "conf": 0.3}, "Extra inputs"),
    "key of another plugin": (
        {"type": "yolo", "path": "m.onnx", "reg_max": 7},
        "Extra inputs",
    ),
    "confidence above 1": ({"type": "yolo", "path": "m", "confidence": 1.5}, "less than or"),
    "negative confidence": ({"type": "yolo", "path": "m", "confidence": -0.1}, "greater than"),
    "iou zero": ({"type": "yolo", "path": "m", "iou": 0}, "greater than 0"),
    "max detections zero": ({"type": "yolo", "path": "m", "max_detections": 0}, "greater"),
    "unknown provider": ({"type": "yolo", "path": "m", "providers": ["rocm"]}, "cpu"),
    "empty providers": ({"type": "yolo", "path": "m", "providers": []}, "at least 1"),
    "repeated provider": (
        {"type": "yolo", "path": "m", "providers": ["cpu", "cpu"]},
        "more than once",
    ),
    "negative threads": ({"type": "yolo", "path": "m", "intra_op_threads": -1}, "greater"),
    "empty name": ({"type": "yolo", "path": "m", "name": ""}, "at least 1"),
    "no strides": ({"type": "yolox", "path": "m", "strides": []}, "at least 1"),
    "reg_max zero": ({"type": "nanodet", "path": "m", "reg_max": 0}, "greater than or"),
}


@pytest.mark.parametrize(("data", "message"), list(BAD_CONFIGS.values()), ids=list(BAD_CONFIGS))
def test_bad_config_is_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_detector_config(data)


def test_detector_config_works_as_a_field_type() -> None:
    class Edge(BaseModel):
        model_config = ConfigDict(extra="forbid")
        detector: DetectorConfig

    edge = Edge.model_validate({"detector": {"type": "nanodet", "path": "n.onnx"}})
    assert isinstance(edge.detector, NanodetConfig)
    schema = Edge.model_json_schema()
    assert "discriminator" in str(schema)
    assert "NMS IoU threshold" in str(schema)  # descriptions travel into the schema


def test_every_config_field_has_a_description() -> None:
    for cls in (YoloConfig, YoloxConfig, NanodetConfig, FastestDetConfig):
        for name, field in cls.model_fields.items():
            assert field.description, f"{cls.__name__}.{name} has no description"


# --- providers ------------------------------------------------------------------

PROVIDER_CASES = {
    "cpu only": (["cpu"], [CPU], False, [CPU]),
    "cuda available": (["cuda"], [CUDA, CPU], False, [CUDA, CPU]),
    "cuda missing falls back": (["cuda"], [CPU], False, [CPU]),
    "tensorrt before cuda": (["tensorrt", "cuda"], [TRT, CUDA, CPU], False, [TRT, CUDA, CPU]),
    "tensorrt missing, cuda there": (["tensorrt", "cuda"], [CUDA, CPU], False, [CUDA, CPU]),
    "cpu listed first stays first": (["cpu", "cuda"], [CUDA, CPU], False, [CPU, CUDA]),
    "required and available": (["cuda"], [CUDA, CPU], True, [CUDA, CPU]),
}


@pytest.mark.parametrize(
    ("requested", "available", "require", "expected"),
    list(PROVIDER_CASES.values()),
    ids=list(PROVIDER_CASES),
)
def test_resolve_providers(
    requested: list[str], available: list[str], require: bool, expected: list[str]
) -> None:
    assert resolve_providers(requested, available, require=require) == expected


def test_missing_provider_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="edge.detectors.base"):
        resolve_providers(["tensorrt"], [CPU], require=False)
    assert "tensorrt" in caplog.text and "falling back" in caplog.text


def test_missing_required_provider_is_an_error() -> None:
    with pytest.raises(DetectorError, match=r"'cuda' .* is required"):
        resolve_providers(["cuda"], ["AzureExecutionProvider", CPU], require=True)


def test_unknown_provider_is_an_error() -> None:
    with pytest.raises(DetectorError, match="unknown execution provider"):
        resolve_providers(["rocm"], [CPU], require=False)


def test_required_provider_missing_refuses_to_load(tmp_path: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA; the refusal path cannot be shown here")
    path = tmp_path / "m.onnx"
    path.write_bytes(b"irrelevant: providers are checked before the file is parsed")
    config = YoloConfig(path=path, providers=["cuda"], require_providers=True)
    with pytest.raises(DetectorError, match="required"):
        create_detector(config)


# --- bad files ------------------------------------------------------------------


@pytest.mark.parametrize("type_", ["yolo", "yolox", "nanodet", "fastestdet"])
def test_missing_file_names_the_file(tmp_path: Path, type_: str) -> None:
    path = tmp_path / "absent.onnx"
    with pytest.raises(DetectorError, match=r"absent\.onnx: model file not found"):
        create_detector(parse_detector_config({"type": type_, "path": str(path)}))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "model file is empty"),
        (b"this is not a protobuf at all \x00\xff", "not a loadable ONNX model"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "not a loadable ONNX model"),
    ],
    ids=["empty", "text", "png"],
)
def test_non_onnx_file_names_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(content)
    with pytest.raises(DetectorError, match=rf"broken\.onnx: {message}"):
        create_detector(YoloxConfig(path=path))


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match="model file not found"):
        create_detector(NanodetConfig(path=tmp_path))


def test_a_plugin_that_fails_to_import_only_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import importlib

    from edge.detectors.registry import discover_plugins

    package = tmp_path / "fake_detector_plugins"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "a_broken.py").write_text("import no_such_accelerator_sdk\n", encoding="utf-8")
    (package / "b_empty.py").write_text("X = 1\n", encoding="utf-8")
    (package / "c_good.py").write_text(
        "from edge.detectors.plugins.yolo import PLUGIN\n", encoding="utf-8"
    )
    (package / "d_twice.py").write_text(
        "from edge.detectors.plugins.yolo import PLUGIN\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="edge.detectors.registry"):
        found = discover_plugins(importlib.import_module("fake_detector_plugins"))
    assert list(found) == ["yolo"]
    assert "a_broken not available: ModuleNotFoundError" in caplog.text
    assert "b_empty exports no PLUGIN" in caplog.text
    assert "already registered" in caplog.text
