"""``civicwatch models gate`` end to end on a small export: both registered models through
the edge's detector, the report files, the exit status, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from civicwatch.cli import main
from training.config import REPO_ROOT
from training.scenes.classes import CLASSES
from training.scenes.dataset import write_dataset

pytestmark = pytest.mark.slow


def small_config(tmp_path: Path) -> Path:
    config = yaml.safe_load((REPO_ROOT / "configs" / "train.yaml").read_text())
    config["dataset"].update(root=str(tmp_path / "train-ds"), count=4, workers=1)
    config["holdout"].update(root=str(tmp_path / "holdout"), count=6, workers=1)
    config["runs_dir"] = str(tmp_path / "runs")
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def export_of_scenes(tmp_path: Path) -> Path:
    """An export whose test split is six rendered scenes with their full labels."""
    scenes = tmp_path / "scenes"
    write_dataset(scenes, count=6, seed=5151, imgsz=576, val_fraction=0.0, workers=1)
    root = tmp_path / "export"
    lines = []
    for split in ("train", "val", "test"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
    for image in sorted((scenes / "images" / "train").glob("*.jpg")):
        shutil.copy(image, root / "images" / "test" / image.name)
        shutil.copy(scenes / "labels" / "train" / f"{image.stem}.txt", root / "labels" / "test")
        lines.append(
            json.dumps(
                {
                    "image": f"images/test/{image.name}",
                    "split": "test",
                    "kind": "positive",
                    "judged": list(CLASSES),
                }
            )
        )
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    (root / "data.yaml").write_text(yaml.safe_dump({"names": dict(enumerate(CLASSES))}))
    return root


def test_gate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = small_config(tmp_path)
    export = export_of_scenes(tmp_path)
    out = tmp_path / "report" / "gate"
    args = [
        "models",
        "gate",
        "--candidate",
        "civicwatch-street@4",
        "--against",
        "default",
        "--split",
        str(export),
        "--config",
        str(config),
        "--no-real",
        "--out",
        str(out),
    ]
    code = main(args)
    printed = capsys.readouterr().out
    report = json.loads(out.with_name("gate.json").read_text())
    assert code == (0 if report["decision"]["passed"] else 1)
    assert report["candidate"]["reviewed"]["images"] == 6
    assert {c["material"] for c in report["decision"]["checks"]} == {"reviewed", "holdout"}
    assert report["decision"]["skipped"] == ["real-image table: --no-real given"]
    assert "Model gate: civicwatch-street@4 against default" in printed
    assert out.with_name("gate.md").read_text().startswith("# Model gate")

    assert (
        main([*args[:6], "--split", str(tmp_path / "nothing"), "--no-real", "--out", str(out)]) == 2
    )
    assert "not a dataset export" in capsys.readouterr().err
    same = [
        "models",
        "gate",
        "--candidate",
        "default",
        "--against",
        "default",
        "--split",
        str(export),
        "--out",
        str(out),
    ]
    assert main(same) == 2
    assert "is the model it is gated against" in capsys.readouterr().err
    assert main([*args[:4], "--against", "nope@1", *args[6:]]) == 2
