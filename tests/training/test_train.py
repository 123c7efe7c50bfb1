"""training.train without training: when a rendered dataset is reused and when it is stale."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from training.config import DatasetConfig
from training.scenes.dataset import GENERATOR_VERSION
from training.train import ensure_dataset

REPO = Path(__file__).resolve().parents[2]


def _config(root: Path) -> DatasetConfig:
    return DatasetConfig(root=root, count=4, seed=3, imgsz=160, val_fraction=0.25, workers=1)


def test_complete_dataset_is_reused(tmp_path: Path) -> None:
    data_yaml = ensure_dataset(_config(tmp_path / "ds"))
    marker = tmp_path / "ds" / "images" / "train" / "marker.txt"
    marker.write_text("kept")
    assert ensure_dataset(_config(tmp_path / "ds")) == data_yaml
    assert marker.is_file()


def test_dataset_of_another_generator_version_is_rendered_again(tmp_path: Path) -> None:
    data_yaml = ensure_dataset(_config(tmp_path / "ds"))
    listed = yaml.safe_load(data_yaml.read_text())
    listed["generator"] = GENERATOR_VERSION - 1
    data_yaml.write_text(yaml.safe_dump(listed))
    marker = tmp_path / "ds" / "images" / "train" / "marker.txt"
    marker.write_text("stale")
    ensure_dataset(_config(tmp_path / "ds"))
    assert not marker.exists()
    assert yaml.safe_load(data_yaml.read_text())["generator"] == GENERATOR_VERSION


def test_dataset_with_missing_images_is_rendered_again(tmp_path: Path) -> None:
    ensure_dataset(_config(tmp_path / "ds"))
    victim = next((tmp_path / "ds" / "images").rglob("*.jpg"))
    victim.unlink()
    ensure_dataset(_config(tmp_path / "ds"))
    assert sum(1 for _ in (tmp_path / "ds" / "images").rglob("*.jpg")) == 4


def test_repeat_trains_on_a_list_that_ultralytics_reads_with_its_repeats(tmp_path: Path) -> None:
    config = DatasetConfig(
        root=tmp_path / "ds",
        count=6,
        seed=3,
        imgsz=160,
        val_fraction=0.0,
        workers=1,
        repeat={"person": 2},
    )
    data_yaml = ensure_dataset(config)
    assert data_yaml.name == "data-repeat.yaml"
    listed = (tmp_path / "ds" / "train-repeat.txt").read_text().splitlines()
    assert 6 < len(listed) <= 12
    # ultralytics' own dataset class, in a child process configured offline first (importing
    # ultralytics here would run its online check and clash with other tests' configuration)
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from training.offline import configure_offline
        configure_offline(Path({str(tmp_path / "cfg")!r}))
        from ultralytics.data.dataset import YOLODataset
        from ultralytics.data.utils import check_det_dataset
        data = check_det_dataset({str(data_yaml)!r})
        dataset = YOLODataset(img_path=data["train"], data=data, imgsz=160, augment=False)
        print("LEN", len(dataset))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("LEN ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    assert int(lines[-1].split()[1]) == len(listed)
    assert ensure_dataset(config.model_copy(update={"repeat": {}})).name == "data.yaml"
