"""Training from a dataset export: reading it, mixing it with rendered scenes, --from names."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from edge.registry import ModelVerificationError, default_model
from training.config import DatasetConfig
from training.review_data import ExportDataError, load_export, mix_with_export, resolve_start
from training.scenes.classes import CLASSES
from training.train import ensure_dataset


def write_export(root: Path, frames: list[tuple[str, str, list[str], list[str]]]) -> Path:
    """A minimal export: (stem, split, label lines, judged classes) per frame."""
    for split in ("train", "val", "test"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
    lines = []
    for i, (stem, split, labels, judged) in enumerate(frames):
        rng = np.random.default_rng(i)
        image = rng.integers(0, 255, (180, 320, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "images" / split / f"{stem}.jpg"), image)
        (root / "labels" / split / f"{stem}.txt").write_text("".join(f"{x}\n" for x in labels))
        lines.append(
            json.dumps(
                {
                    "image": f"images/{split}/{stem}.jpg",
                    "split": split,
                    "kind": "hard_negative" if not labels else "positive",
                    "judged": judged,
                }
            )
        )
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    names = dict(enumerate(CLASSES))
    (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "names": names}))
    return root


FRAMES = [
    ("1_a", "train", ["3 0.2 0.4 0.2 0.4"], ["stall"]),
    ("2_b", "train", [], ["stall"]),
    ("3_c", "val", ["4 0.5 0.5 0.1 0.1"], ["goods"]),
    ("4_d", "test", [], ["stall"]),
]


def test_load_export_reads_splits_kinds_and_judged(tmp_path: Path) -> None:
    export = load_export(write_export(tmp_path / "export", FRAMES))
    assert [len(export.images[s]) for s in ("train", "val", "test")] == [2, 1, 1]
    assert export.kinds == {"positive": 2, "hard_negative": 2}
    assert len(export.negatives) == 2
    assert export.judged[export.images["val"][0]] == frozenset({"goods"})


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda root: (root / "manifest.jsonl").unlink(), "not a dataset export"),
        (
            lambda root: (root / "data.yaml").write_text(yaml.safe_dump({"names": {0: "cat"}})),
            "not the detector's",
        ),
        (lambda root: (root / "images" / "train" / "1_a.jpg").unlink(), "is missing"),
    ],
)
def test_a_broken_export_is_refused(tmp_path: Path, damage: object, message: str) -> None:
    root = write_export(tmp_path / "export", FRAMES)
    damage(root)  # type: ignore[operator]
    with pytest.raises(ExportDataError, match=message):
        load_export(root)


def test_mix_lists_export_and_rendered_and_pseudo_labels_the_unjudged(tmp_path: Path) -> None:
    rendered = ensure_dataset(
        DatasetConfig(
            root=tmp_path / "ds", count=8, seed=3, imgsz=320, val_fraction=0.25, workers=1
        )
    )
    export = load_export(write_export(tmp_path / "export", FRAMES))
    # a rendered scene as an export frame, judged for stalls only: the model's people and
    # cars on it become labels, its stalls do not (the reviewer spoke for those)
    scene = sorted((tmp_path / "ds" / "images" / "train").glob("*.jpg"))[0]
    target = export.images["train"][1]
    target.write_bytes(scene.read_bytes())
    data_yaml = mix_with_export(
        export,
        rendered,
        tmp_path / "mix",
        rendered_ratio=1.5,
        export_repeat=2,
        pseudo_model=default_model(),
        pseudo_confidence=0.25,
    )
    listed = yaml.safe_load(data_yaml.read_text())
    train = Path(listed["train"]).read_text().split()
    review = [p for p in train if "/mix/images/train/" in p]
    assert len(review) == 4 and len(train) == 4 + 6  # 2 frames x2, 1.5 rendered per listed frame
    assert len(Path(listed["val"]).read_text().split()) == 2 + 1
    kept = (tmp_path / "mix" / "labels" / "train" / "1_a.txt").read_text().splitlines()
    assert kept[0] == "3 0.2 0.4 0.2 0.4"
    pseudo = (tmp_path / "mix" / "labels" / "train" / "2_b.txt").read_text().splitlines()
    classes = {CLASSES[int(line.split()[0])] for line in pseudo}
    assert classes and "stall" not in classes
    with pytest.raises(ExportDataError, match="rendered_ratio"):
        mix_with_export(export, rendered, tmp_path / "bad", rendered_ratio=-1)


def test_resolve_start_names_paths_and_registered_models(tmp_path: Path) -> None:
    assert resolve_start("runs/x/weights/best.pt") == Path("runs/x/weights/best.pt")
    assert resolve_start("default") == default_model()
    assert resolve_start("civicwatch-street@4").name == "civicwatch-street-v4.onnx"
    with pytest.raises(ModelVerificationError, match="not registered"):
        resolve_start("no-such-model")
