"""Real backgrounds and hard negatives (training.real_data, training.scenes.real_backgrounds)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import yaml

from edge.detectors import COCO80_NAMES
from edge.types import Detections, ImageArray
from training.config import RealBackgroundsConfig
from training.real_data import (
    DEFAULT_SPLIT,
    RealDataError,
    RealImage,
    RealManifest,
    SourceSplit,
    build_real_backgrounds,
    mixed_dataset,
)
from training.scenes.classes import CLASSES
from training.scenes.real_backgrounds import (
    SeenObject,
    guess_perspective,
    match_light,
)


class ScriptedTeacher:
    """A detector that finds the same things on every frame: a person (sure), a car (unsure),
    an umbrella (sure, but not a class pseudo-labels are taken from)."""

    def detect(self, image: ImageArray) -> Detections:
        h, w = image.shape[:2]
        boxes = [
            (0.1 * w, 0.4 * h, 0.18 * w, 0.8 * h),
            (0.5 * w, 0.6 * h, 0.8 * w, 0.8 * h),
            (0.3 * w, 0.2 * h, 0.4 * w, 0.3 * h),
        ]
        names = ("person", "car", "umbrella")
        return Detections(
            xyxy=np.array(boxes, dtype=np.float32),
            confidence=np.array([0.9, 0.3, 0.95], dtype=np.float32),
            class_id=np.array([COCO80_NAMES.index(n) for n in names], dtype=np.int64),
            names=COCO80_NAMES,
        )


def _clip(path: Path, frames: int = 12) -> Path:
    """A small H.264 clip: a grey street with a darker road band, slowly brightening."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(frames):
            image = np.full((240, 320, 3), 100 + 5 * i, dtype=np.uint8)
            image[150:200] = 60
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    root = tmp_path / "shared"
    (root / "videos").mkdir(parents=True)
    _clip(root / "videos" / "street.mp4")
    _clip(root / "videos" / "kept.mp4", frames=3)
    return root


SPLIT = SourceSplit(
    train_clips=("videos/street.mp4",), train_photos=(), check_clips=("videos/kept.mp4",)
)


def _config(tmp_path: Path, **changes: object) -> RealBackgroundsConfig:
    fields: dict[str, object] = {
        "root": tmp_path / "real",
        "frames_per_clip": 4,
        "composites": 2,
        "max_objects": 3,
        "imgsz": 320,
    }
    return RealBackgroundsConfig.model_validate({**fields, **changes})


def _labels(root: Path, record: RealImage) -> list[int]:
    label = root / record.file.replace("images/", "labels/").replace(".jpg", ".txt")
    return [int(line.split()[0]) for line in label.read_text().splitlines()]


def test_backgrounds_carry_teacher_pseudo_labels_and_no_stall_or_goods(
    tmp_path: Path, shared: Path
) -> None:
    config = _config(tmp_path)
    manifest = build_real_backgrounds(
        shared, config.root, config, teacher=ScriptedTeacher(), split=SPLIT
    )

    assert manifest.pseudo_labels
    assert manifest.train_sources == ("videos/street.mp4",)
    assert manifest.check_sources == ("videos/kept.mp4",)
    assert RealManifest.model_validate_json((config.root / "manifest.json").read_text()) == manifest
    records = [
        RealImage.model_validate_json(line)
        for line in (config.root / "manifest.jsonl").read_text().splitlines()
    ]
    backgrounds = [r for r in records if r.kind == "background"]
    composites = [r for r in records if r.kind == "composite"]
    assert len(backgrounds) == 4 and len(composites) == 8
    assert {r.source for r in records} == {"videos/street.mp4"}  # nothing from the kept clip
    for record in backgrounds:
        # the sure person only: the unsure car and the umbrella are not labelled
        assert [(b.name, b.origin, b.pseudo) for b in record.boxes] == [("person", "teacher", True)]
        assert _labels(config.root, record) == [CLASSES.index("person")]
    pasted = [b for r in composites for b in r.boxes if b.origin == "pasted"]
    assert pasted, "no object was pasted on any copy"
    assert all(not b.pseudo and b.score is None for b in pasted)
    assert {b.name for b in pasted} <= {"stall", "goods", "dust_net", "truck"}
    for record in records:  # every stall or goods box is a pasted, exactly labelled one
        for box in record.boxes:
            if box.name in ("stall", "goods"):
                assert box.origin == "pasted"
        assert len(_labels(config.root, record)) == len(record.boxes)
        image = cv2.imread(str(config.root / record.file))
        assert image is not None and image.shape[1] == 320


def test_pasted_copies_differ_from_their_background(tmp_path: Path, shared: Path) -> None:
    config = _config(tmp_path, composites=1, max_objects=2, frames_per_clip=3)
    build_real_backgrounds(shared, config.root, config, teacher=ScriptedTeacher(), split=SPLIT)
    records = [
        RealImage.model_validate_json(line)
        for line in (config.root / "manifest.jsonl").read_text().splitlines()
    ]
    compared = 0
    for background in (r for r in records if r.kind == "background"):
        copy = next(r for r in records if r.kind == "composite" and r.frame == background.frame)
        a = np.asarray(cv2.imread(str(config.root / background.file)), dtype=int)
        b = np.asarray(cv2.imread(str(config.root / copy.file)), dtype=int)
        changed = np.abs(a - b).max(axis=2) > 6
        boxes = [x.xyxy for x in copy.boxes if x.origin == "pasted"]
        if not boxes:
            continue
        x0, y0, x1, y1 = (round(v) for v in boxes[0])
        inside = changed[y0:y1, x0:x1].mean()
        outside = (changed.sum() - changed[y0:y1, x0:x1].sum()) / changed.size
        assert inside > 0.1 and outside < 0.01, (inside, outside)
        compared += 1
    assert compared > 0


@pytest.mark.parametrize(
    ("split", "message"),
    [
        (SourceSplit(("videos/street.mp4",), (), ("videos/street.mp4",)), "both trained on"),
        (SourceSplit(("videos/missing.mp4",), (), ()), "not in"),
    ],
)
def test_bad_splits_are_refused(
    tmp_path: Path, shared: Path, split: SourceSplit, message: str
) -> None:
    config = _config(tmp_path)
    with pytest.raises(RealDataError, match=message):
        build_real_backgrounds(shared, config.root, config, teacher=ScriptedTeacher(), split=split)


def test_the_default_split_keeps_two_no_violation_clips_out() -> None:
    assert len(DEFAULT_SPLIT.check_clips) >= 2
    assert not set(DEFAULT_SPLIT.check_clips) & set(DEFAULT_SPLIT.train_clips)
    assert not any("truck_checkpoint" in p for p in DEFAULT_SPLIT.train_photos)


def test_mixed_dataset_lists_rendered_and_real_training_images(
    tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.real_data as real_data

    config = _config(tmp_path, repeat=2)
    build_real_backgrounds(shared, config.root, config, teacher=ScriptedTeacher(), split=SPLIT)
    monkeypatch.setattr(real_data, "build_real_backgrounds", _refuse_rebuild)
    rendered = tmp_path / "rendered"
    rendered.mkdir()
    (rendered / "data.yaml").write_text(
        yaml.safe_dump({"train": "images/train", "val": "images/val", "names": {0: "person"}})
    )

    data = yaml.safe_load(mixed_dataset(config, shared, rendered / "data.yaml").read_text())

    assert data["train"][0] == str(rendered / "images" / "train")
    assert data["val"] == str(rendered / "images" / "val")
    listed = Path(data["train"][1]).read_text().splitlines()
    assert len(listed) == 2 * 12  # every real image, twice
    assert all((config.root / line).is_file() for line in listed)


def _refuse_rebuild(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("a dataset built with the same settings was rebuilt")


@pytest.mark.parametrize(
    ("seen", "fitted"),
    [
        ([], False),
        ([SeenObject("person", (10, 100, 20, 130))], False),
        # two people of 1.7 m: 34 px tall with feet at row 200, 17 px at row 120: horizon 40
        (
            [SeenObject("person", (10, 166, 20, 200)), SeenObject("person", (50, 103, 60, 120))],
            True,
        ),
    ],
)
def test_perspective_is_fitted_to_the_objects_found(seen: list[SeenObject], fitted: bool) -> None:
    p = guess_perspective(seen, 240)
    assert p.fitted == fitted
    assert p.k > 0
    if fitted:
        assert p.horizon_y == pytest.approx(40.0, abs=0.5)
        assert p.px_per_m(200) == pytest.approx(20.0, rel=0.01)
    assert p.px_per_m(p.horizon_y - 5) == 0.0


def test_light_is_matched_to_a_grey_background() -> None:
    red = np.zeros((20, 20, 3), dtype=np.uint8)
    red[:, :, 2] = 220
    mask = np.ones((20, 20), dtype=bool)
    grey = np.full((40, 40, 3), 90, dtype=np.uint8)
    grey[::2] = 60
    out = match_light(red, mask, grey)
    b, g, r = (out[:, :, i].astype(int) for i in range(3))
    assert np.abs(r - g).max() <= 3 and np.abs(g - b).max() <= 3  # grey like the frame
    assert abs(float(out.mean()) - 75.0) < 8.0  # and as bright


@pytest.mark.shared_data
def test_default_split_names_files_of_the_shared_data(shared_data: Path) -> None:
    for path in (
        *DEFAULT_SPLIT.train_clips,
        *DEFAULT_SPLIT.train_photos,
        *DEFAULT_SPLIT.check_clips,
    ):
        assert (shared_data / path).is_file(), path
    described = json.dumps(
        yaml.safe_load((Path(__file__).parents[2] / "training" / "real_footage.yaml").read_text())
    )
    assert all(clip in described for clip in DEFAULT_SPLIT.check_clips)
