"""Load-region crops of muck trucks from the scene generator, labelled covered / uncovered.

Each sample image is a street scene (:mod:`training.scenes`) with one to three trucks on the
road lanes, some cars and people in front of or behind them, under the training mix of
light and weather (day, dusk, night, infrared, rain, blur, noise). Every truck that shows at
least ``MIN_VISIBLE`` of itself gives ``crops_per_truck`` crops of its **load region**
(:func:`edge.rules.cover.load_region`, the same crop the edge takes) from a box jittered as
a detector's would be, resized to the model's input and sometimes JPEG-compressed.

Image ``i`` of a set with base seed ``S`` is rendered from the seed sequence ``(S, i)``:
training and validation use different base seeds, so they never share a scene.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.rules.cover import crop, load_region
from training.scenes import objects
from training.scenes.classes import class_id
from training.scenes.render import Conditions
from training.scenes.scenery import PAVEMENT_Y, ROAD_Y1, build_street
from training.scenes.world import Placer, Scene, View, render_scene, sample_camera

logger = logging.getLogger(__name__)

IMGSZ_HW: tuple[int, int] = (64, 96)
"""Model input ``(height, width)``: load regions are wide."""
MIN_VISIBLE = 0.6
"""Trucks showing less of themselves are not used (their load may be hidden)."""
MIN_SIDE_PX = 16
"""Load regions smaller than this on either side are not used."""
TRUCK = class_id("truck")


@dataclass(frozen=True, slots=True)
class CoverSet:
    """Crops and labels.

    Attributes:
        images: ``(N, H, W, 3)`` BGR uint8 crops resized to :data:`IMGSZ_HW`.
        labels: ``(N,)`` int64, 0 covered, 1 uncovered.
        scenes: ``(N,)`` int64 index of the scene each crop comes from.
    """

    images: npt.NDArray[np.uint8]
    labels: npt.NDArray[np.int64]
    scenes: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.labels)


def sample_truck_scene(rng: np.random.Generator, width: int, height: int) -> Scene:
    """A street scene with one to three muck trucks on the road, and some occluders."""
    r = rng.random()
    view = View.SHOPS if r < 0.45 else View.SITE if r < 0.7 else View.ALONG
    camera = sample_camera(rng, width, height, view)
    conditions = Conditions.sample(rng)
    street = build_street(rng, night=conditions.night)
    placer = Placer(rng, camera)
    lanes = ((PAVEMENT_Y + 2.0, 0.0), (ROAD_Y1 - 2.6, math.pi))
    solids = []

    def near(line_y: float) -> object:
        return lambda x, y: abs(y - line_y) < 1.2

    for _ in range(int(rng.integers(1, 4))):
        lane_y, yaw = lanes[int(rng.integers(0, 2))]
        spot = placer.spot(near(lane_y), 5.0, 60)  # type: ignore[arg-type]
        if spot is not None:
            solids.append(
                objects.truck(
                    rng,
                    spot[0],
                    lane_y + float(rng.uniform(-0.3, 0.3)),
                    yaw
                    + float(rng.uniform(-0.08, 0.08))
                    + (math.pi if rng.random() < 0.1 else 0.0),
                    covered=bool(rng.random() < 0.5),
                )
            )
    for _ in range(int(rng.integers(0, 3))):
        lane_y, yaw = lanes[int(rng.integers(0, 2))]
        spot = placer.spot(near(lane_y), 3.0, 60)  # type: ignore[arg-type]
        if spot is not None:
            solids.append(objects.car(rng, spot[0], lane_y, yaw))
    for _ in range(int(rng.integers(0, 4))):
        spot = placer.spot(lambda x, y: 0.6 < y < PAVEMENT_Y - 0.5 or y > ROAD_Y1 + 0.4, 0.4, 40)
        if spot is not None:
            solids.append(objects.person(rng, spot[0], spot[1], math.radians(camera.yaw_deg)))
    return Scene(camera, conditions, street, tuple(solids), "")


def jitter_box(
    rng: np.random.Generator, xyxy: tuple[float, float, float, float]
) -> npt.NDArray[np.float64]:
    """A detector-like version of a true box: shifted and scaled by a few per cent."""
    x1, y1, x2, y2 = xyxy
    w, h = x2 - x1, y2 - y1
    cx = (x1 + x2) / 2 + rng.normal(0, 0.04) * w
    cy = (y1 + y2) / 2 + rng.normal(0, 0.04) * h
    w *= math.exp(rng.normal(0, 0.07))
    h *= math.exp(rng.normal(0, 0.07))
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def render_cover_set(
    count: int, seed: int, *, out_width: int = 640, crops_per_truck: int = 2
) -> CoverSet:
    """Render ``count`` scenes and cut the load-region crops of their trucks.

    Args:
        count: Scenes to render.
        seed: Base seed; scene ``i`` uses ``(seed, i)``.
        out_width: Width of each rendered scene (16:9).
        crops_per_truck: Jittered crops per visible truck.

    Returns:
        The crops with their labels.
    """
    images: list[npt.NDArray[np.uint8]] = []
    labels: list[int] = []
    scenes: list[int] = []
    h, w = IMGSZ_HW
    for i in range(count):
        rng = np.random.default_rng(np.random.SeedSequence((seed, i)))
        scene = sample_truck_scene(rng, int(out_width * 1.5), round(out_width * 1.5 * 9 / 16))
        rendered = render_scene(scene, rng, out_width)
        frame = rendered.image
        wh = (int(frame.shape[1]), int(frame.shape[0]))
        for box in rendered.boxes:
            if box.class_id != TRUCK or box.covered is None or box.visible_fraction < MIN_VISIBLE:
                continue
            for _ in range(crops_per_truck):
                region = load_region(jitter_box(rng, box.xyxy), wh)
                if min(region[2] - region[0], region[3] - region[1]) < MIN_SIDE_PX:
                    continue
                patch = np.asarray(
                    cv2.resize(crop(frame, region), (w, h), interpolation=cv2.INTER_AREA),
                    dtype=np.uint8,
                )
                if rng.random() < 0.5:
                    quality = int(rng.integers(35, 95))
                    ok, buf = cv2.imencode(".jpg", patch, [cv2.IMWRITE_JPEG_QUALITY, quality])
                    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
                    if decoded is not None:
                        patch = np.asarray(decoded, dtype=np.uint8)
                images.append(patch)
                labels.append(0 if box.covered else 1)
                scenes.append(i)
        if (i + 1) % 100 == 0:
            logger.info("cover set %d: %d/%d scenes, %d crops", seed, i + 1, count, len(labels))
    return CoverSet(
        images=np.stack(images) if images else np.zeros((0, h, w, 3), dtype=np.uint8),
        labels=np.asarray(labels, dtype=np.int64),
        scenes=np.asarray(scenes, dtype=np.int64),
    )
