"""Writing rendered stills as a YOLO-format dataset.

Layout under the output folder::

    data.yaml                 names, train and val folders (paths relative to this file),
                              generator version
    images/{train,val}/*.jpg  the images, saved at their sampled JPEG quality
    labels/{train,val}/*.txt  one ``class cx cy w h`` line per visible object (0..1 units)
    meta/{train,val}.jsonl    per image: seed, size, boxes in pixels with the truck-cover flag

Image ``i`` of a dataset with base seed ``S`` is rendered from the seed sequence ``(S, i)``,
so a held-out split rendered with another base seed never repeats a training image.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import yaml
from pydantic import BaseModel, ConfigDict, Field

from training.scenes.classes import CLASSES
from training.scenes.world import RenderedImage, render_still

logger = logging.getLogger(__name__)


class MetaBox(BaseModel):
    """One labelled object of a dataset image, in pixels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    class_id: int = Field(ge=0, lt=len(CLASSES), description="Index into CLASSES.")
    name: str = Field(description="Class name.")
    xyxy: tuple[float, float, float, float] = Field(description="Visible box in pixels.")
    visible_fraction: float = Field(ge=0.0, le=1.0, description="Share not occluded.")
    covered: bool | None = Field(description="Truck load covered; null for other classes.")


class MetaImage(BaseModel):
    """Ground truth of one dataset image beyond what the YOLO label file holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(description="Image path relative to the dataset folder.")
    seed: tuple[int, int] = Field(description="Seed sequence the image was rendered from.")
    width: int = Field(gt=0, description="Image width in pixels.")
    height: int = Field(gt=0, description="Image height in pixels.")
    boxes: list[MetaBox] = Field(description="Visible labelled objects.")


GENERATOR_VERSION = 3
"""Version of what the generator draws and labels, written to ``data.yaml``; bumped whenever
the same seed would render a different image or label (a dataset of another version is stale).
Version 2: stricter labels (40% visible, 8 px at 320 px, contrast) and more goods.
Version 3: people standing in shop doors and beside goods and stalls (the rest of each scene
is as in version 2)."""


class DatasetSummary(BaseModel):
    """What :func:`write_dataset` wrote."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: Path = Field(description="Dataset folder.")
    data_yaml: Path = Field(description="The data.yaml file to train or validate with.")
    images: dict[str, int] = Field(description="Image count per split.")
    instances: dict[str, int] = Field(description="Labelled objects per class, all splits.")


def yolo_lines(rendered: RenderedImage) -> list[str]:
    """YOLO label lines (``class cx cy w h``, normalised) for a rendered image."""
    h, w = rendered.image.shape[:2]
    lines = []
    for box in rendered.boxes:
        x0, y0, x1, y1 = box.xyxy
        x0, x1 = max(0.0, x0), min(float(w), x1)
        y0, y1 = max(0.0, y0), min(float(h), y1)
        lines.append(
            f"{box.class_id} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} "
            f"{(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}"
        )
    return lines


def _render_one(job: tuple[Path, str, int, int, int]) -> MetaImage:
    root, split, seed, index, imgsz = job
    rendered = render_still((seed, index), imgsz)
    name = f"{seed}_{index:06d}"
    image_rel = Path("images") / split / f"{name}.jpg"
    quality = int(30 + (index * 7919 + seed) % 65)
    if not cv2.imwrite(str(root / image_rel), rendered.image, [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"could not write {root / image_rel}")
    label = root / "labels" / split / f"{name}.txt"
    label.write_text("".join(line + "\n" for line in yolo_lines(rendered)))
    h, w = rendered.image.shape[:2]
    return MetaImage(
        file=image_rel.as_posix(),
        seed=(seed, index),
        width=w,
        height=h,
        boxes=[
            MetaBox(
                class_id=b.class_id,
                name=b.name,
                xyxy=b.xyxy,
                visible_fraction=min(1.0, b.visible_fraction),
                covered=b.covered,
            )
            for b in rendered.boxes
        ],
    )


def write_dataset(
    out: Path,
    *,
    count: int,
    seed: int,
    imgsz: int,
    val_fraction: float = 0.15,
    workers: int = 1,
) -> DatasetSummary:
    """Render ``count`` stills into a YOLO dataset under ``out``.

    Args:
        out: Output folder (created; existing files with the same names are overwritten).
        count: Number of images, at least 1.
        seed: Base seed; image ``i`` uses the seed sequence ``(seed, i)``.
        imgsz: Image width in pixels (height follows the sampled 16:9 or 4:3 aspect).
        val_fraction: Share of images put in the ``val`` split (the last ones), 0..1.
        workers: Processes to render with.

    Returns:
        A summary with the path of ``data.yaml``.

    Raises:
        ValueError: If an argument is out of range.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if not 64 <= imgsz <= 4096:
        raise ValueError(f"imgsz must be in 64..4096, got {imgsz}")
    if not 0.0 <= val_fraction <= 1.0:
        raise ValueError(f"val_fraction must be in 0..1, got {val_fraction}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    n_val = math.ceil(count * val_fraction) if val_fraction > 0 else 0
    n_train = count - n_val
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    (out / "meta").mkdir(parents=True, exist_ok=True)
    jobs = [(out, "train" if i < n_train else "val", seed, i, imgsz) for i in range(count)]
    metas: list[MetaImage] = []
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for k, meta in enumerate(pool.map(_render_one, jobs, chunksize=8), start=1):
                metas.append(meta)
                if k % 100 == 0 or k == count:
                    logger.info("rendered %d/%d images", k, count)
    else:
        for k, job in enumerate(jobs, start=1):
            metas.append(_render_one(job))
            if k % 100 == 0 or k == count:
                logger.info("rendered %d/%d images", k, count)
    counts: Counter[str] = Counter()
    for split in ("train", "val"):
        with (out / "meta" / f"{split}.jsonl").open("w") as fh:
            for meta in metas:
                if meta.file.startswith(f"images/{split}/"):
                    fh.write(meta.model_dump_json() + "\n")
                    counts.update(b.name for b in meta.boxes)
    data_yaml = out / "data.yaml"
    data_yaml.write_text(
        yaml.safe_dump(
            {
                "train": "images/train",
                "val": "images/val",
                "names": dict(enumerate(CLASSES)),
                "generator": GENERATOR_VERSION,
            },
            sort_keys=False,
        )
    )
    summary = DatasetSummary(
        root=out,
        data_yaml=data_yaml,
        images={"train": n_train, "val": n_val},
        instances={name: counts.get(name, 0) for name in CLASSES},
    )
    logger.info("dataset %s: %s images, instances %s", out, summary.images, summary.instances)
    return summary


REPEAT_LIST = "train-repeat.txt"
REPEAT_YAML = "data-repeat.yaml"


def write_repeat_list(root: Path, repeat: dict[str, int]) -> Path:
    """Oversample the train split of the dataset under ``root`` by class.

    Writes ``train-repeat.txt``, listing each training image as many times as the largest
    ``repeat`` count among the classes it holds (once if it holds none of them), and
    ``data-repeat.yaml``, a copy of ``data.yaml`` that trains on that list and validates on
    the same ``val`` split. The images themselves are not copied.

    Args:
        root: A dataset written by :func:`write_dataset`.
        repeat: Class name to times listed, each at least 1.

    Returns:
        Path of ``data-repeat.yaml``.

    Raises:
        ValueError: If a name is not a class or a count is below 1.
        FileNotFoundError: If the dataset has no ``meta/train.jsonl`` or ``data.yaml``.
    """
    for name, times in repeat.items():
        if name not in CLASSES:
            raise ValueError(f"unknown class {name!r}; known classes: {', '.join(CLASSES)}")
        if times < 1:
            raise ValueError(f"{name} must be listed at least once, got {times}")
    listed = yaml.safe_load((root / "data.yaml").read_text())
    lines: list[str] = []
    with (root / "meta" / "train.jsonl").open() as fh:
        for line in fh:
            meta = MetaImage.model_validate_json(line)
            times = max((repeat.get(b.name, 1) for b in meta.boxes), default=1)
            lines += [f"./{meta.file}"] * times
    (root / REPEAT_LIST).write_text("".join(line + "\n" for line in lines))
    data_yaml = root / REPEAT_YAML
    data_yaml.write_text(yaml.safe_dump({**listed, "train": REPEAT_LIST}, sort_keys=False))
    logger.info("train list %s: %d entries (repeat %s)", root / REPEAT_LIST, len(lines), repeat)
    return data_yaml
