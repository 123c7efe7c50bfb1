"""The edge config loader: the shipped configs load, bad ones name file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import EdgeConfigError, load_edge_config

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
edge_id: e1
detector:
  type: yolo
  path: models/m.onnx
cameras:
  - id: cam1
    source:
      type: rtsp
      url: rtsp://192.0.2.10/stream
    zones: configs/zones/demo-cam.yaml
"""


@pytest.mark.parametrize("name", ["edge.yaml", "edge-gpu.yaml"])
def test_shipped_configs_load(name: str) -> None:
    config = load_edge_config(REPO / "configs" / name)
    assert config.cameras


def test_minimal_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(GOOD)
    config = load_edge_config(path)
    assert config.edge_id == "e1" and config.cameras[0].id == "cam1"


# (case id, text, the single problem expected after "FILE:")
BAD: list[tuple[str, str, str]] = [
    ("empty", "", " file is empty; expected a mapping with edge_id, detector and cameras"),
    ("syntax error", "edge_id: [e1\n", "2: not valid YAML"),
    (
        "camera key typo",
        GOOD + "    analysis_fsp: 2\n",
        "11: cameras[0]: unknown key 'analysis_fsp'; did you mean 'analysis_fps'?",
    ),
    (
        "detector key typo (inside the plugin union)",
        GOOD.replace("  path: models/m.onnx\n", "  path: models/m.onnx\n  confidance: 0.3\n"),
        "5: detector: unknown key 'confidance'; did you mean 'confidence'?",
    ),
    (
        "source key typo (inside the source union)",
        GOOD.replace("stream\n", "stream\n      transprt: tcp\n"),
        "10: cameras[0].source: unknown key 'transprt'; did you mean 'transport'?",
    ),
    ("bad id", GOOD.replace("edge_id: e1", "edge_id: e 1"), "1: edge_id: String should match"),
    (
        "wrong type",
        GOOD + "    analysis_fps: fast\n",
        "11: cameras[0].analysis_fps: Input should be a valid number",
    ),
    ("duplicate key", GOOD + "edge_id: e2\n", "11: duplicate key 'edge_id' (first on line 1)"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_config_names_file_line_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    with pytest.raises(EdgeConfigError) as info:
        load_edge_config(path)
    assert len(info.value.problems) == 1, info.value.problems
    assert info.value.problems[0].startswith(f"{path}:{expected}"), info.value.problems[0]


def test_duplicate_camera_ids(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    camera = GOOD.split("cameras:\n", 1)[1]
    path.write_text(GOOD + camera)
    with pytest.raises(EdgeConfigError, match="duplicate camera ids: cam1"):
        load_edge_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EdgeConfigError, match="cannot read"):
        load_edge_config(tmp_path / "none.yaml")
