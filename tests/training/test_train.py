"""training.train without training: when a rendered dataset is reused and when it is stale."""

from __future__ import annotations

from pathlib import Path

import yaml

from training.config import DatasetConfig
from training.scenes.dataset import GENERATOR_VERSION
from training.train import ensure_dataset


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
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

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
    data = check_det_dataset(str(data_yaml))
    dataset = YOLODataset(img_path=data["train"], data=data, imgsz=160, augment=False)
    assert len(dataset) == len(listed)
    assert ensure_dataset(config.model_copy(update={"repeat": {}})).name == "data.yaml"
