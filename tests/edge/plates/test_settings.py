"""Plate reader settings and loading: the files must be the listed ones (SHA-256)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.plates import PlateModelError, PlateModelFile, PlateReader, PlateReaderSettings
from edge.plates.session import open_session, verified_bytes
from edge.rules import RulesSettings

SHA = "0" * 64


def model(tmp_path: Path, content: bytes, name: str = "m.onnx") -> PlateModelFile:
    path = tmp_path / name
    path.write_bytes(content)
    return PlateModelFile(path=path, sha256=hashlib.sha256(content).hexdigest())


def test_a_file_with_another_sha256_is_refused(tmp_path: Path) -> None:
    listed = model(tmp_path, b"the installed model")
    (tmp_path / "m.onnx").write_bytes(b"another model")
    with pytest.raises(PlateModelError, match=r"has sha256 .* but the config lists .* corrupted"):
        verified_bytes(listed, "plate detector")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlateModelError, match=r"plate recogniser .* not found"):
        verified_bytes(PlateModelFile(path=tmp_path / "none.onnx", sha256=SHA), "plate recogniser")


def test_the_listed_file_that_is_no_model_is_refused(tmp_path: Path) -> None:
    listed = model(tmp_path, b"not onnx at all")
    assert verified_bytes(listed, "plate detector") == b"not onnx at all"
    with pytest.raises(PlateModelError, match="not a loadable ONNX model"):
        open_session(listed, "plate detector", threads=1)


def test_the_reader_refuses_a_mismatch_before_loading(tmp_path: Path) -> None:
    good = model(tmp_path, b"x")
    settings = PlateReaderSettings(
        detector=PlateModelFile(path=good.path, sha256="f" * 64), recogniser=good
    )
    with pytest.raises(PlateModelError, match=r"plate detector .* has sha256"):
        PlateReader.from_settings(settings)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"detector": {"path": "d.onnx", "sha256": SHA}}, "recogniser"),
        ({"detector": {"path": "d.onnx", "sha256": "ABC"}, "recogniser": {}}, "sha256"),
        (
            {
                "detector": {"path": "d.onnx", "sha256": SHA},
                "recogniser": {"path": "r.onnx", "sha256": SHA},
                "frame": 3,
            },
            "frame",
        ),
        (
            {
                "detector": {"path": "d.onnx", "sha256": SHA},
                "recogniser": {"path": "r.onnx", "sha256": SHA},
                "frames": 0,
            },
            "frames",
        ),
    ],
    ids=["missing recogniser", "bad sha256", "unknown key", "no frames"],
)
def test_bad_settings_name_the_field(data: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        PlateReaderSettings.model_validate(data)


def test_the_rule_settings_carry_it_and_default_to_none() -> None:
    assert RulesSettings().muck_truck.plate_reader is None
    settings = RulesSettings.model_validate(
        {
            "muck_truck": {
                "plate_reader": {
                    "detector": {"path": "d.onnx", "sha256": SHA},
                    "recogniser": {"path": "r.onnx", "sha256": SHA},
                }
            }
        }
    )
    reader = settings.muck_truck.plate_reader
    assert reader is not None and reader.frames == 3 and reader.detector.path == Path("d.onnx")
