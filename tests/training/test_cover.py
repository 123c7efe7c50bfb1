"""The cover classifier: its training data, a tiny training run and export, the committed file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from edge.rules.cover import LOAD_REGION_SPEC, OnnxCoverClassifier
from training.cover.data import IMGSZ_HW, render_cover_set

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"


def test_cover_set_has_both_classes_at_the_model_size() -> None:
    crops = render_cover_set(8, seed=990_001)
    assert len(crops) >= 6
    assert crops.images.shape[1:] == (*IMGSZ_HW, 3) and crops.images.dtype == np.uint8
    assert set(crops.labels.tolist()) == {0, 1}
    assert len(crops.scenes) == len(crops) and crops.scenes.max() < 8
    again = render_cover_set(8, seed=990_001)
    assert np.array_equal(crops.labels, again.labels)  # deterministic per seed
    assert np.array_equal(crops.images, again.images)


@pytest.mark.slow
def test_tiny_training_exports_a_model_the_edge_loads(tmp_path: Path) -> None:
    from training.cover.train import run

    report = run(tmp_path, train_scenes=24, val_scenes=8, epochs=1, threads=1)
    classifier = OnnxCoverClassifier(report.onnx)
    assert classifier.imgsz_hw == IMGSZ_HW and classifier.name == "civicwatch-cover"
    assert report.card.read_text().startswith("# civicwatch-cover v1")
    entry = yaml.safe_load(report.registry.read_text())["models"][0]
    assert entry["sha256"] == hashlib.sha256(report.onnx.read_bytes()).hexdigest()
    assert 0.0 <= report.val_accuracy <= 1.0


def test_committed_model_matches_its_registry_entry_and_card() -> None:
    model = MODELS / "cover-v1.onnx"
    registry = yaml.safe_load((MODELS / "cover-registry.yaml").read_text())
    (entry,) = registry["models"]
    data = model.read_bytes()
    assert entry["file"] == model.name and entry["size_bytes"] == len(data)
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert len(data) < 3 * 1024 * 1024  # a few MB at most on the edge image
    assert entry["classes"] == ["covered", "uncovered"] and entry["task"] == "classify"
    card = (MODELS / entry["card"]).read_text()
    assert entry["sha256"] in card and LOAD_REGION_SPEC in card


def test_committed_model_on_unseen_scenes() -> None:
    """Scenes of a base seed used for nothing else: the per-frame vote is mostly right."""
    crops = render_cover_set(30, seed=4103)
    p = OnnxCoverClassifier(MODELS / "cover-v1.onnx").p_uncovered(list(crops.images))
    accuracy = float(((p >= 0.5).astype(np.int64) == crops.labels).mean())
    assert accuracy >= 0.85, accuracy  # 0.89 on the 1016 validation crops of the card
