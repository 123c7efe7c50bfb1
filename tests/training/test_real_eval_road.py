"""The real evaluation's road-profile row (scheduling.road_detector, training.real_eval)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from edge.registry import ModelVerificationError, load_registry
from training.config import REPO_ROOT
from training.real_eval.data import (
    edge_settings,
    find_real_data,
    registry_models,
    road_model,
    teacher_model,
)
from training.real_eval.run import evaluate_real
from training.real_eval.table import render_real_table

V4_INT8 = REPO_ROOT / "models" / "civicwatch-street-v4-int8.onnx"


def _edge_config(tmp_path: Path, road: Path | None, *, registry: bool = True) -> Path:
    config = yaml.safe_load((REPO_ROOT / "configs" / "edge.yaml").read_text())
    for camera in config["cameras"]:
        camera["zones"] = str(REPO_ROOT / camera["zones"])
    config["model_registry"] = str(REPO_ROOT / "models" / "registry.yaml") if registry else None
    if road is not None:
        config["scheduling"] = {
            "road_detector": {"type": "yolo", "path": str(road), "confidence": 0.2}
        }
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_no_road_detector_no_road_row(tmp_path: Path) -> None:
    settings = edge_settings(_edge_config(tmp_path, None))
    assert settings.road_detector is None
    assert road_model(settings) is None


def test_road_row_runs_the_road_model_as_configured(tmp_path: Path) -> None:
    settings = edge_settings(_edge_config(tmp_path, V4_INT8))
    model = road_model(settings)
    assert model is not None
    assert model.label == "road profile: civicwatch-street-v4+int8 (scheduling.road_detector)"
    assert model.detector is not None and model.detector.confidence == 0.2
    assert model.label_map == settings.label_map


def test_an_unregistered_road_model_is_refused_like_the_edge_does(tmp_path: Path) -> None:
    copy = tmp_path / "copy.onnx"
    copy.write_bytes(V4_INT8.read_bytes())
    with pytest.raises(ModelVerificationError, match="not in the registry"):
        road_model(edge_settings(_edge_config(tmp_path, copy)))
    unchecked = road_model(edge_settings(_edge_config(tmp_path, copy, registry=False)))
    assert unchecked is not None and unchecked.label.startswith("road profile: copy ")


@pytest.mark.shared_data
@pytest.mark.slow
def test_road_row_in_the_table(shared_data: Path, tmp_path: Path) -> None:
    data = find_real_data(shared_data)
    small = dataclasses.replace(data, clips=data.clips[:1], trucks=data.trucks[:2], photos=())
    settings = edge_settings(_edge_config(tmp_path, V4_INT8))
    road = road_model(settings)
    assert road is not None
    teacher = teacher_model(shared_data)
    default = registry_models(load_registry())[0]
    report = evaluate_real(
        [default, road], small, settings, teacher_path=teacher.path, clip_limit=2
    )
    assert [m.model for m in report.models] == [default.label, road.label]
    table = render_real_table(report, details=False)
    assert f"| {road.label} | " in table
    assert f"* Road profile row: `{V4_INT8}` through the `yolo` plugin at its own " in table
