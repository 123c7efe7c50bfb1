"""The edge worker loads the plate reader once, when a camera has a road zone."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from edge.config import EdgeConfig
from edge.plates import PlateReader
from edge.worker import EdgeWorker

from .real import reader_settings

REPO = Path(__file__).resolve().parents[3]


def worker(tmp_path: Path, plate_reader: Any) -> EdgeWorker:
    config = EdgeConfig.model_validate(
        {
            "edge_id": "edge-plates",
            "mqtt": {"host": "127.0.0.1", "port": 1883},
            "detector": {
                "type": "yolo",
                "path": str(REPO / "models" / "civicwatch-street-v4.onnx"),
            },
            "outbox_path": str(tmp_path / "outbox.db"),
            "rules": {
                "muck_truck": {
                    "cover_model": str(REPO / "models" / "cover-v1.onnx"),
                    "plate_reader": plate_reader,
                }
            },
            "cameras": [
                {
                    "id": "example-street",  # its zone file has a road zone
                    "source": {"type": "file", "path": str(tmp_path / "none.mp4")},
                    "zones": str(REPO / "configs" / "zones" / "example-street.yaml"),
                }
            ],
        }
    )
    return EdgeWorker(config)


def test_no_reader_configured(tmp_path: Path) -> None:
    w = worker(tmp_path, None)
    try:
        assert w.resources.cover_classifier is not None
        assert w.resources.plate_reader is None
    finally:
        w.outbox.close()


def test_a_wrong_file_is_logged_and_the_edge_runs_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = tmp_path / "plate.onnx"
    model.write_bytes(b"not the installed model")
    listed = {"path": str(model), "sha256": "a" * 64}
    with caplog.at_level(logging.ERROR):
        w = worker(tmp_path, {"detector": listed, "recogniser": listed})
    try:
        assert w.resources.plate_reader is None
        assert w.resources.cover_classifier is not None  # trucks are still judged
        assert "plate reader not loaded" in caplog.text and "has sha256" in caplog.text
    finally:
        w.outbox.close()


@pytest.mark.shared_data
def test_the_installed_reader_is_loaded(tmp_path: Path, shared_data: Path) -> None:
    w = worker(tmp_path, reader_settings(shared_data).model_dump(mode="json"))
    try:
        assert isinstance(w.resources.plate_reader, PlateReader)
        assert w.resources.cover_classifier is not None
        assert all(p.analyzer is not None for p in w.pipelines)
    finally:
        w.outbox.close()
