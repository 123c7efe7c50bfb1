"""The scene generator: determinism, labels that match the drawing, dataset files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from training.scenes import objects
from training.scenes.camera import Camera
from training.scenes.classes import CLASSES, class_id
from training.scenes.dataset import (
    GENERATOR_VERSION,
    MetaImage,
    write_dataset,
    write_repeat_list,
)
from training.scenes.geometry import Solid
from training.scenes.render import Canvas, Conditions, Light
from training.scenes.world import render_still, sample_scene


def _day() -> Conditions:
    return Conditions(Light.DAY, 45.0, 50.0, 0.0, 0.0, 0.0, 90, False, 1.0)


def _camera() -> Camera:
    return Camera((0.0, 15.0, 7.0), -90.0, 28.0, 65.0, 640, 360)


def test_classes_order_is_fixed() -> None:
    assert CLASSES == ("person", "car", "truck", "stall", "goods", "bare_soil", "dust_net")
    assert class_id("stall") == 3
    with pytest.raises(ValueError, match="unknown class 'bicycle'"):
        class_id("bicycle")


def test_camera_ground_point_round_trip() -> None:
    cam = _camera()
    g = cam.ground_point(320.0, 250.0)
    assert g is not None
    uv, depth = cam.project(np.array([[g[0], g[1], 0.0]]))
    assert depth[0] > 0
    assert np.allclose(uv[0], [320.0, 250.0], atol=1e-6)
    assert cam.ground_point(320.0, -1000.0) is None  # above the horizon


def test_still_is_deterministic_per_seed() -> None:
    a = render_still((7, 3), 160)
    b = render_still((7, 3), 160)
    c = render_still((7, 4), 160)
    assert np.array_equal(a.image, b.image)
    assert a.boxes == b.boxes
    assert not np.array_equal(a.image, c.image) if a.image.shape == c.image.shape else True


def test_scenes_put_people_in_shop_doors_and_beside_goods() -> None:
    # Shopkeepers stand in doorways and next to their goods: without such people in training
    # a detector learns that anything upright in a dark doorway is goods.
    in_door = beside_goods = 0
    for i in range(60):
        rng = np.random.default_rng(np.random.SeedSequence((5, i)))
        scene = sample_scene(rng, 640, 360)
        people = [s.anchor for s in scene.objects if s.name == "person"]
        goods = [s.anchor for s in scene.objects if s.name == "goods"]
        doors = [(shop.door_x, shop.door_w) for shop in scene.street.shops]
        in_door += sum(
            1
            for x, y, _ in people
            if y < 1.5 and any(abs(x - dx) <= (dw + 0.8) / 2 for dx, dw in doors)
        )
        beside_goods += sum(
            1
            for px, py, _ in people
            if any(math.hypot(px - gx, py - gy) < 1.6 for gx, gy, _ in goods)
        )
    assert in_door >= 15
    assert beside_goods >= 5


@pytest.mark.parametrize("index", range(6))
def test_still_labels_are_inside_the_image_and_in_range(index: int) -> None:
    r = render_still((11, index), 320)
    h, w = r.image.shape[:2]
    assert w == 320 and r.image.dtype == np.uint8
    for box in r.boxes:
        x0, y0, x1, y1 = box.xyxy
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert 0 <= box.class_id < len(CLASSES)
        assert 0.3 <= box.visible_fraction <= 1.0 + 1e-9
        assert (box.covered is not None) == (box.name == "truck")


def _one(rng: np.random.Generator, kind: str) -> Solid:
    yaw = math.radians(-90.0)
    return {
        "person": lambda: objects.person(rng, 0.0, 3.0, yaw, umbrella=False),
        "car": lambda: objects.car(rng, 0.0, 6.0, 0.0),
        "truck_covered": lambda: objects.truck(rng, 0.0, 6.0, 0.0, covered=True),
        "truck_open": lambda: objects.truck(rng, 0.0, 6.0, 0.0, covered=False),
        "stall_umbrella": lambda: objects.stall(rng, 0.0, 2.5, 0.0, variant=0),
        "stall_cart": lambda: objects.stall(rng, 0.0, 2.5, 0.0, variant=1),
        "stall_tarp": lambda: objects.stall(rng, 0.0, 2.5, 0.0, variant=2),
        "goods": lambda: objects.goods(rng, 0.0, 1.0),
        "bare_soil": lambda: objects.soil_patch(rng, 0.0, 4.0, radius=2.0, heap=1.0),
        "dust_net": lambda: objects.dust_net(rng, 0.0, 4.0, radius=2.0),
    }[kind]()


@pytest.mark.parametrize(
    "kind",
    [
        "person",
        "car",
        "truck_covered",
        "truck_open",
        "stall_umbrella",
        "stall_cart",
        "stall_tarp",
        "goods",
        "bare_soil",
        "dust_net",
    ],
)
def test_label_box_is_the_box_of_what_was_drawn(kind: str) -> None:
    cam = _camera()
    solid = _one(np.random.default_rng(5), kind)
    empty = Canvas(cam, _day(), np.random.default_rng(1))
    empty.image[:] = 0
    base = empty.image.copy()
    canvas = Canvas(cam, _day(), np.random.default_rng(1), background=base)
    canvas.draw([Solid(solid.name, solid.faces, solid.anchor, solid.layer, False, solid.covered)])
    labels = canvas.labels()
    assert len(labels) == 1
    box = labels[0]
    assert box.name == solid.name
    drawn = np.argwhere(canvas.ids > 0)
    y0, x0 = drawn.min(axis=0)
    y1, x1 = drawn.max(axis=0) + 1
    assert box.xyxy == (float(x0), float(y0), float(x1), float(y1))
    # the pixels inside the box were actually painted
    painted = canvas.image[int(y0) : int(y1), int(x0) : int(x1)].any(axis=2)
    assert painted.mean() > 0.15
    assert box.covered == ({"truck_covered": True, "truck_open": False}.get(kind))


def test_hidden_object_is_not_labelled() -> None:
    cam = _camera()
    rng = np.random.default_rng(3)
    hidden = objects.person(rng, 0.0, 5.0, math.radians(-90.0), umbrella=False)
    wall = objects.truck(rng, 0.0, 7.5, 0.0, covered=True)  # between the camera and the person
    canvas = Canvas(cam, _day(), np.random.default_rng(1))
    canvas.draw([hidden, wall])
    names = [b.name for b in canvas.labels()]
    assert names == ["truck"]


def test_object_that_does_not_stand_out_is_not_labelled() -> None:
    """An object is labelled in the lit image only where a person could see it."""
    cam = _camera()
    person = objects.person(np.random.default_rng(3), 0.0, 5.0, math.radians(-90.0))
    canvas = Canvas(cam, _day(), np.random.default_rng(1))
    canvas.draw([person])
    assert [b.name for b in canvas.labels(seen=canvas.image)] == ["person"]
    unlit = np.full_like(canvas.image, 12)  # the same scene with no light on it at all
    assert canvas.labels(seen=unlit) == []
    assert [b.name for b in canvas.labels()] == ["person"]  # geometry alone still labels it


def test_nothing_drawn_gives_no_labels() -> None:
    canvas = Canvas(_camera(), _day(), np.random.default_rng(1))
    canvas.draw([])
    assert canvas.labels() == []


def test_write_dataset(tmp_path: Path) -> None:
    summary = write_dataset(tmp_path / "ds", count=5, seed=3, imgsz=160, val_fraction=0.4)
    assert summary.images == {"train": 3, "val": 2}
    data = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    assert data["names"] == dict(enumerate(CLASSES))
    assert data["train"] == "images/train" and data["val"] == "images/val"
    assert data["generator"] == GENERATOR_VERSION
    total = 0
    for split, n in (("train", 3), ("val", 2)):
        images = sorted((tmp_path / "ds" / "images" / split).glob("*.jpg"))
        assert len(images) == n
        metas = [
            json.loads(line)
            for line in (tmp_path / "ds" / "meta" / f"{split}.jsonl").read_text().splitlines()
        ]
        assert len(metas) == n
        for image, meta in zip(images, metas, strict=True):
            img = cv2.imread(str(image))
            assert img is not None
            assert img.shape[1] == 160
            lines = (
                (tmp_path / "ds" / "labels" / split / f"{image.stem}.txt").read_text().splitlines()
            )
            assert len(lines) == len(meta["boxes"])
            for line in lines:
                cid, *xywh = line.split()
                assert 0 <= int(cid) < len(CLASSES)
                assert all(0.0 <= float(v) <= 1.0 for v in xywh)
                total += 1
    assert total == sum(summary.instances.values())


def test_dataset_is_reproducible(tmp_path: Path) -> None:
    write_dataset(tmp_path / "a", count=2, seed=4, imgsz=160, val_fraction=0.0)
    write_dataset(tmp_path / "b", count=2, seed=4, imgsz=160, val_fraction=0.0)
    for f in (tmp_path / "a" / "images" / "train").glob("*.jpg"):
        assert f.read_bytes() == (tmp_path / "b" / "images" / "train" / f.name).read_bytes()


def test_repeat_list_lists_images_with_a_class_that_many_times(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_dataset(root, count=8, seed=3, imgsz=160, val_fraction=0.25)
    metas = [
        MetaImage.model_validate_json(line)
        for line in (root / "meta" / "train.jsonl").read_text().splitlines()
    ]
    held = {m.file: {b.name for b in m.boxes} for m in metas}
    assert any("goods" in names for names in held.values())
    assert any("goods" not in names for names in held.values())
    data_yaml = write_repeat_list(root, {"goods": 3, "car": 2})
    listed = (root / "train-repeat.txt").read_text().splitlines()
    for file, names in held.items():
        expected = 3 if "goods" in names else 2 if "car" in names else 1
        assert listed.count(f"./{file}") == expected, (file, names)
    assert len(listed) == sum(listed.count(f"./{f}") for f in held)
    data = yaml.safe_load(data_yaml.read_text())
    original = yaml.safe_load((root / "data.yaml").read_text())
    assert data == {**original, "train": "train-repeat.txt"}
    assert original["train"] == "images/train"


def test_repeat_list_rejects_unknown_classes_and_counts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown class 'bicycle'"):
        write_repeat_list(tmp_path, {"bicycle": 2})
    with pytest.raises(ValueError, match="at least once"):
        write_repeat_list(tmp_path, {"goods": 0})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0, "seed": 1, "imgsz": 160}, "count"),
        ({"count": 1, "seed": 1, "imgsz": 10}, "imgsz"),
        ({"count": 1, "seed": -1, "imgsz": 160}, "seed"),
        ({"count": 1, "seed": 1, "imgsz": 160, "val_fraction": 1.5}, "val_fraction"),
    ],
)
def test_write_dataset_rejects_bad_arguments(
    tmp_path: Path, kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_dataset(tmp_path, **kwargs)  # type: ignore[arg-type]


def test_scenes_package_imports_neither_torch_nor_ultralytics() -> None:
    import subprocess
    import sys

    code = (
        "import sys, training.scenes, training.scenes.scenarios, training.scenes.__main__; "
        "print(sorted(m for m in ('torch', 'ultralytics') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
