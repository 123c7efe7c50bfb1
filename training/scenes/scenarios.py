"""Short scripted scenario clips (H.264 MP4) with ground-truth timelines, for end-to-end tests.

Scenarios (``SCENARIOS``):

* ``stall_setup``: a vendor walks up and opens an umbrella stall on the pavement a few seconds
  in; it stays to the end while people and cars pass.
* ``goods_spill``: goods come out of a shop door in three steps, each further onto the pavement.
* ``open_truck``: a muck truck with a covered load drives through, later one with an open load.
* ``net_removed``: a green dust net is pulled off a soil heap in the construction site.

Script times are fractions of the clip length, so short clips (tests) keep every event.
The timeline records, per object, when it is *visible* (labelled) in the frames, and
optionally its box in every frame.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from training.scenes import objects
from training.scenes.camera import Camera
from training.scenes.classes import CLASSES
from training.scenes.geometry import Face, Solid
from training.scenes.render import Canvas, Conditions, ImageArray, Light, add_overlay, add_rain
from training.scenes.scenery import FENCE_Y, PAVEMENT_Y, ROAD_Y1, Street, build_street

logger = logging.getLogger(__name__)

SCENARIOS: tuple[str, ...] = ("stall_setup", "goods_spill", "open_truck", "net_removed")
"""Names accepted by :func:`render_scenario`."""


class TruthObject(BaseModel):
    """One object of a scenario and when it can be seen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Stable object id within the clip.")
    class_name: str = Field(description="Class name from CLASSES.")
    class_id: int = Field(ge=0, lt=len(CLASSES), description="Index into CLASSES.")
    appear_s: float = Field(ge=0.0, description="Time of the first frame it is visible in.")
    disappear_s: float | None = Field(
        description="Time of the first frame after its last visible one; null if seen at the end."
    )
    visible_frames: int = Field(ge=1, description="Frames it is visible (labelled) in.")
    covered: bool | None = Field(description="Trucks: load covered; null for other classes.")


class TruthBox(BaseModel):
    """An object's visible box in one frame."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Object id.")
    class_id: int = Field(ge=0, lt=len(CLASSES), description="Index into CLASSES.")
    xyxy: tuple[float, float, float, float] = Field(description="Visible box, pixels.")


class TruthFrame(BaseModel):
    """The visible objects of one frame."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int = Field(ge=0, description="Frame index from 0.")
    t_s: float = Field(ge=0.0, description="Presentation time, seconds.")
    boxes: list[TruthBox] = Field(description="Visible labelled objects.")


class ScenarioTruth(BaseModel):
    """Ground truth of a rendered scenario clip (written beside it as JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str = Field(description="Scenario name.")
    seed: int = Field(description="Seed it was rendered from.")
    video: str = Field(description="File name of the clip.")
    fps: int = Field(gt=0, description="Frames per second.")
    width: int = Field(gt=0, description="Frame width, pixels.")
    height: int = Field(gt=0, description="Frame height, pixels.")
    seconds: float = Field(gt=0.0, description="Clip length, seconds.")
    frame_count: int = Field(ge=1, description="Frames in the clip.")
    classes: list[str] = Field(description="The class vocabulary (CLASSES).")
    objects: list[TruthObject] = Field(description="Every object visible at some point.")
    frames: list[TruthFrame] = Field(description="Per-frame boxes (empty if not recorded).")

    @staticmethod
    def timeline_path(video: Path) -> Path:
        """Where the timeline of ``video`` is written (same name, ``.json``)."""
        return video.with_suffix(".json")

    def objects_of(self, class_name: str) -> list[TruthObject]:
        """The objects of one class."""
        return [o for o in self.objects if o.class_name == class_name]


Script = Callable[[float], Solid | None]
"""An actor: the solid it is at time ``t`` seconds, or ``None`` while absent."""


@dataclass(frozen=True, slots=True)
class Stage:
    """A scenario ready to render: camera, light, scenery and actors."""

    camera: Camera
    conditions: Conditions
    street: Street
    actors: tuple[Script, ...]
    caption: str


def render_scenario(
    name: str,
    out_path: Path,
    seconds: float = 40.0,
    seed: int = 0,
    fps: int = 10,
    size: tuple[int, int] = (960, 540),
    *,
    record_boxes: bool = True,
    light: str = "day",
) -> ScenarioTruth:
    """Render a scripted scenario to an H.264 MP4 and write its timeline beside it.

    Args:
        name: One of :data:`SCENARIOS`.
        out_path: The ``.mp4`` to write; the timeline goes to ``out_path.with_suffix('.json')``.
        seconds: Clip length, 2..600 seconds.
        seed: Seed of the scene (camera, scenery, people, colours).
        fps: Frames per second, 1..60.
        size: ``(width, height)`` in pixels, both even, 160..3840.
        record_boxes: Store per-frame boxes in the timeline.
        light: ``day``, ``dusk``, ``night`` or ``night_ir``.

    Returns:
        The ground truth (also written as JSON).

    Raises:
        ValueError: On an unknown scenario or an argument out of range.
    """
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    if not 2.0 <= seconds <= 600.0:
        raise ValueError(f"seconds must be in 2..600, got {seconds}")
    if not 1 <= fps <= 60:
        raise ValueError(f"fps must be in 1..60, got {fps}")
    width, height = size
    if not (160 <= width <= 3840 and 160 <= height <= 2160) or width % 2 or height % 2:
        raise ValueError(f"size must be even and within 160x160..3840x2160, got {width}x{height}")
    try:
        light_kind = Light(light)
    except ValueError:
        raise ValueError(
            f"unknown light {light!r}; choose from {', '.join(x.value for x in Light)}"
        ) from None
    started = time.monotonic()
    rng = np.random.default_rng(np.random.SeedSequence([seed, SCENARIOS.index(name), 7]))
    stage = _STAGES[name](rng, width, height, seconds, light_kind)
    n_frames = max(1, round(seconds * fps))

    back = Canvas(stage.camera, stage.conditions, rng)
    back.draw(stage.street.solids)
    background, emissive = back.image, back.emissive
    noise_bank = [
        rng.normal(0.0, stage.conditions.noise_sigma, (height, width, 1)).astype(np.float32)
        for _ in range(5)
    ]
    seen: dict[str, list[int]] = {}
    info: dict[str, tuple[int, bool | None]] = {}
    frames: list[TruthFrame] = []
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out_path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        stream.codec_context.time_base = Fraction(1, fps)
        for i in range(n_frames):
            t = i / fps
            solids = [s for s in (actor(t) for actor in stage.actors) if s is not None]
            canvas = Canvas(stage.camera, stage.conditions, rng, background, emissive)
            canvas.draw(solids)
            image = canvas.lit(stage.street.lamps)
            image = add_rain(image, stage.conditions.rain, rng)
            noisy = image.astype(np.float32) + noise_bank[i % len(noise_bank)]
            image = np.clip(noisy, 0, 255).astype(np.uint8)
            stamp = f"{stage.caption}  {int(t) // 60:02d}:{int(t) % 60:02d}.{int(t * 10) % 10}"
            image = add_overlay(image, stamp)
            boxes = []
            for box in canvas.labels():
                seen.setdefault(box.key, []).append(i)
                info[box.key] = (box.class_id, box.covered)
                boxes.append(TruthBox(id=box.key, class_id=box.class_id, xyxy=box.xyxy))
            if record_boxes:
                frames.append(TruthFrame(index=i, t_s=round(t, 4), boxes=boxes))
            _encode(container, stream, image)
        for packet in stream.encode():
            container.mux(packet)
    objs = []
    for key, idx in seen.items():
        cid, covered = info[key]
        last = idx[-1]
        objs.append(
            TruthObject(
                id=key,
                class_name=CLASSES[cid],
                class_id=cid,
                appear_s=round(idx[0] / fps, 4),
                disappear_s=None if last == n_frames - 1 else round((last + 1) / fps, 4),
                visible_frames=len(idx),
                covered=covered,
            )
        )
    objs.sort(key=lambda o: (o.appear_s, o.id))
    truth = ScenarioTruth(
        scenario=name,
        seed=seed,
        video=out_path.name,
        fps=fps,
        width=width,
        height=height,
        seconds=seconds,
        frame_count=n_frames,
        classes=list(CLASSES),
        objects=objs,
        frames=frames,
    )
    ScenarioTruth.timeline_path(out_path).write_text(truth.model_dump_json(indent=1))
    logger.info("rendered %s (%d frames) in %.1f s", out_path, n_frames, time.monotonic() - started)
    return truth


def _encode(
    container: av.container.OutputContainer, stream: av.video.stream.VideoStream, image: ImageArray
) -> None:
    frame = av.VideoFrame.from_ndarray(image, format="bgr24")
    for packet in stream.encode(frame):
        container.mux(packet)


# -- staging helpers ---------------------------------------------------------------------------


def _conditions(rng: np.random.Generator, light: Light) -> Conditions:
    return Conditions(
        light=light,
        sun_azimuth_deg=float(rng.uniform(0, 360)),
        sun_elevation_deg=float(rng.uniform(35, 60) if light == Light.DAY else rng.uniform(8, 15)),
        rain=0.0,
        noise_sigma=2.5 if light in (Light.DAY, Light.DUSK) else 6.0,
        blur_sigma=0.0,
        jpeg_quality=90,
        overlay=True,
        exposure=1.0,
    )


def _caption(rng: np.random.Generator) -> str:
    return f"2025-{rng.integers(3, 11):02d}-{rng.integers(1, 28):02d}  CAM{rng.integers(1, 40):02d}"


def _x_extent(camera: Camera, y: float, margin: float = 3.0) -> tuple[float, float]:
    """The span of ``x`` along the line ``y`` on the ground that the camera sees."""
    xs = np.arange(-150.0, 150.0, 0.5)
    pts = np.stack([xs, np.full_like(xs, y), np.zeros_like(xs)], axis=1)
    uv, depth = camera.project(pts)
    inside = (
        (depth > 1.0)
        & (uv[:, 0] >= 0)
        & (uv[:, 0] < camera.width)
        & (uv[:, 1] >= 0)
        & (uv[:, 1] < camera.height)
    )
    if not inside.any():
        raise ValueError(f"the camera sees no part of the line y={y}")
    return float(xs[inside].min()) - margin, float(xs[inside].max()) + margin


def _visible_lanes(camera: Camera) -> list[tuple[float, bool]]:
    """The driving lanes ``(y, heading +x)`` that the camera sees some part of."""
    lanes = []
    for y, forward in ((PAVEMENT_Y + 2.0, True), (ROAD_Y1 - 2.6, False)):
        try:
            _x_extent(camera, y)
        except ValueError:
            continue
        lanes.append((y, forward))
    return lanes


def _frozen(rng: np.random.Generator) -> int:
    """A seed for an actor, so that it looks the same in every frame."""
    return int(rng.integers(0, 2**31))


def _walkers(
    rng: np.random.Generator,
    camera: Camera,
    seconds: float,
    lanes: list[float],
    every: float,
    prefix: str,
) -> list[Script]:
    view_yaw = math.radians(camera.yaw_deg)
    scripts: list[Script] = []
    t0 = float(rng.uniform(-every, every))
    k = 0
    while t0 < seconds:
        y = float(rng.choice(lanes)) + float(rng.uniform(-0.25, 0.25))
        x_min, x_max = _x_extent(camera, y)
        speed = float(rng.uniform(1.0, 1.6)) * (1 if rng.random() < 0.5 else -1)
        start = x_min if speed > 0 else x_max
        seed = _frozen(rng)
        key = f"{prefix}-{k}"

        def script(
            t: float,
            t0: float = t0,
            start: float = start,
            speed: float = speed,
            y: float = y,
            seed: int = seed,
            key: str = key,
            lo: float = x_min,
            hi: float = x_max,
        ) -> Solid | None:
            if t < t0:
                return None
            x = start + speed * (t - t0)
            if not lo <= x <= hi:
                return None
            return objects.person(
                np.random.default_rng(seed), x, y, view_yaw, phase=x * 2.2, umbrella=False, key=key
            )

        scripts.append(script)
        t0 += every * float(rng.uniform(0.6, 1.4))
        k += 1
    return scripts


def _vehicles(
    rng: np.random.Generator,
    camera: Camera,
    seconds: float,
    every: float,
    prefix: str,
) -> list[Script]:
    scripts: list[Script] = []
    lanes = _visible_lanes(camera)
    t0 = float(rng.uniform(0, every))
    k = 0
    while t0 < seconds and lanes:
        y, forward = lanes[int(rng.integers(0, len(lanes)))]
        x_min, x_max = _x_extent(camera, y, margin=6.0)
        speed = float(rng.uniform(6.0, 10.0))
        seed = _frozen(rng)
        key = f"{prefix}-{k}"

        def script(
            t: float,
            t0: float = t0,
            y: float = y,
            forward: bool = forward,
            speed: float = speed,
            seed: int = seed,
            key: str = key,
            lo: float = x_min,
            hi: float = x_max,
        ) -> Solid | None:
            if t < t0:
                return None
            d = speed * (t - t0)
            x = lo + d if forward else hi - d
            if not lo <= x <= hi:
                return None
            return objects.car(
                np.random.default_rng(seed), x, y, 0.0 if forward else math.pi, key=key
            )

        scripts.append(script)
        t0 += every * float(rng.uniform(0.5, 1.5))
        k += 1
    return scripts


def _static(solid: Solid, appear: float, disappear: float | None = None) -> Script:
    def script(t: float) -> Solid | None:
        if t < appear or (disappear is not None and t >= disappear):
            return None
        return solid

    return script


def _shop_camera(rng: np.random.Generator, width: int, height: int) -> Camera:
    side = 1.0 if rng.random() < 0.5 else -1.0
    return Camera(
        (0.0, float(rng.uniform(14.6, 15.4)), float(rng.uniform(6.0, 8.0))),
        -90.0 + side * float(rng.uniform(15, 30)),
        float(rng.uniform(24, 30)),
        float(rng.uniform(60, 70)),
        width,
        height,
    )


def _spot_on_pavement(camera: Camera, u_frac: float, v_frac: float, y: float) -> float:
    """The ``x`` on the line ``y`` closest in the image to pixel fraction ``(u, v)``."""
    target = np.array([u_frac * camera.width, v_frac * camera.height])
    xs = np.arange(-60.0, 60.0, 0.1)
    pts = np.stack([xs, np.full_like(xs, y), np.zeros_like(xs)], axis=1)
    uv, depth = camera.project(pts)
    dist = np.where(depth > 1.0, np.linalg.norm(uv - target, axis=1), np.inf)
    return float(xs[int(np.argmin(dist))])


# -- the scenarios ---------------------------------------------------------------------------


def _stall_setup(
    rng: np.random.Generator, width: int, height: int, seconds: float, light: Light
) -> Stage:
    camera = _shop_camera(rng, width, height)
    street = build_street(
        rng, night=light in (Light.NIGHT, Light.NIGHT_IR), clear_of=camera.position[:2]
    )
    y_stall = 2.4
    x_stall = _spot_on_pavement(camera, 0.5, 0.62, y_stall)
    t_setup = min(4.0, 0.15 * seconds)
    view_yaw = math.radians(camera.yaw_deg)
    stall_seed = _frozen(rng)
    vendor_seed = _frozen(rng)
    x_lo, x_hi = _x_extent(camera, y_stall + 0.9)
    x_from = x_lo if rng.random() < 0.5 else x_hi
    walk = max(1.0, t_setup - 0.3)

    def stall(t: float) -> Solid | None:
        if t < t_setup:
            return None
        opened = min(1.0, 0.3 + (t - t_setup) / 1.0)
        return objects.stall(
            np.random.default_rng(stall_seed),
            x_stall,
            y_stall,
            0.0,
            variant=0,
            open_frac=opened,
            key="stall-1",
        )

    def vendor(t: float) -> Solid | None:
        frac = min(1.0, t / walk)
        x = x_from + (x_stall + 1.2 - x_from) * frac
        return objects.person(
            np.random.default_rng(vendor_seed),
            x,
            y_stall + 0.9,
            view_yaw,
            phase=x * 2.2 if frac < 1.0 else 0.0,
            umbrella=False,
            key="vendor",
        )

    actors: list[Script] = [stall, vendor]
    actors += _walkers(rng, camera, seconds, [0.9, 1.3], 3.0, "person")
    actors += _vehicles(rng, camera, seconds, 4.0, "car")
    return Stage(camera, _conditions(rng, light), street, tuple(actors), _caption(rng))


def _goods_spill(
    rng: np.random.Generator, width: int, height: int, seconds: float, light: Light
) -> Stage:
    camera = _shop_camera(rng, width, height)
    street = build_street(
        rng, night=light in (Light.NIGHT, Light.NIGHT_IR), clear_of=camera.position[:2]
    )
    target = np.array([0.5 * width, 0.5 * height])
    best = None
    for shop in street.shops:
        uv, depth = camera.project(np.array([[shop.door_x, 0.0, 1.0]]))
        if depth[0] > 1.0:
            d = float(np.linalg.norm(uv[0] - target))
            if best is None or d < best[0]:
                best = (d, shop)
    if best is None:
        raise ValueError("no shop door in view")
    shop = best[1]
    side = 1.0 if rng.random() < 0.5 else -1.0
    steps = [
        (0.12, shop.door_x + side * (shop.door_w / 2 + 0.9), 0.6, 0),
        (0.35, shop.door_x, 1.5, 1),
        (0.6, shop.door_x - side * 0.4, 2.7, 2),
    ]
    actors: list[Script] = []
    for k, (frac, x, y, variant) in enumerate(steps, start=1):
        solid = objects.goods(
            np.random.default_rng(_frozen(rng)), x, y, variant=variant, key=f"goods-{k}"
        )
        actors.append(_static(solid, frac * seconds))
    keeper = objects.person(
        rng,
        shop.door_x - side * (shop.door_w / 2 + 0.6),
        0.7,
        math.radians(camera.yaw_deg),
        phase=0.0,
        umbrella=False,
        key="shopkeeper",
    )
    actors.append(_static(keeper, 0.1 * seconds, 0.7 * seconds))
    actors += _walkers(rng, camera, seconds, [3.4], 4.0, "person")
    actors += _vehicles(rng, camera, seconds, 5.0, "car")
    return Stage(camera, _conditions(rng, light), street, tuple(actors), _caption(rng))


def _open_truck(
    rng: np.random.Generator, width: int, height: int, seconds: float, light: Light
) -> Stage:
    camera = _shop_camera(rng, width, height)
    street = build_street(
        rng, night=light in (Light.NIGHT, Light.NIGHT_IR), clear_of=camera.position[:2]
    )
    actors: list[Script] = []
    lanes = _visible_lanes(camera)
    if not lanes:
        raise ValueError("the camera sees no driving lane")
    for key, covered, start_frac, (y, forward) in (
        ("truck-covered", True, 0.05, lanes[0]),
        ("truck-open", False, 0.5, lanes[-1]),
    ):
        lo, hi = _x_extent(camera, y, margin=6.0)
        speed = min(12.0, max(3.0, (hi - lo) / (0.35 * seconds)))
        seed = _frozen(rng)
        t0 = start_frac * seconds

        def script(
            t: float,
            t0: float = t0,
            lo: float = lo,
            hi: float = hi,
            speed: float = speed,
            y: float = y,
            forward: bool = forward,
            seed: int = seed,
            key: str = key,
            covered: bool = covered,
        ) -> Solid | None:
            if t < t0:
                return None
            d = speed * (t - t0)
            x = lo + d if forward else hi - d
            if not lo <= x <= hi:
                return None
            return objects.truck(
                np.random.default_rng(seed),
                x,
                y,
                0.0 if forward else math.pi,
                covered=covered,
                key=key,
            )

        actors.append(script)
    actors += _walkers(rng, camera, seconds, [1.0, 3.3], 4.0, "person")
    return Stage(camera, _conditions(rng, light), street, tuple(actors), _caption(rng))


def _net_removed(
    rng: np.random.Generator, width: int, height: int, seconds: float, light: Light
) -> Stage:
    camera = Camera(
        (0.0, float(rng.uniform(1.5, 2.5)), float(rng.uniform(8.5, 10.0))),
        90.0 + float(rng.uniform(-12, 12)),
        float(rng.uniform(21, 24)),
        float(rng.uniform(60, 68)),
        width,
        height,
    )
    street = build_street(
        rng, night=light in (Light.NIGHT, Light.NIGHT_IR), clear_of=camera.position[:2]
    )
    g = camera.ground_point(0.5 * width, 0.45 * height)
    if g is None:
        raise ValueError("camera sees no ground")
    hx, hy = g[0], max(FENCE_Y + 10.0, g[1])
    radius = 3.5
    heap = float(rng.uniform(1.2, 1.8))
    shape_seed = _frozen(rng)
    soil = objects.soil_patch(
        np.random.default_rng(shape_seed), hx, hy, radius=radius, heap=heap, key="soil-1"
    )
    net_full = objects.dust_net(
        np.random.default_rng(shape_seed), hx, hy, radius=radius, heap=heap, key="net-1"
    )
    t_pull = 0.4 * seconds
    pull = max(2.0, 0.1 * seconds)
    direction = 1.0 if rng.random() < 0.5 else -1.0

    def net(t: float) -> Solid | None:
        if t < t_pull:
            return net_full
        p = (t - t_pull) / pull
        if p >= 1.0:
            return None
        anchor = np.array([hx - direction * radius, hy, 0.0])
        shift = np.array([direction * 2.0 * radius * p, 0.0, 0.0])
        faces = []
        for face in net_full.faces:
            pts = (
                anchor
                + (face.points - anchor) * np.array([1.0 - 0.8 * p, 1.0 - 0.5 * p, 1.0 - p])
                + shift
            )
            faces.append(Face(pts, face.color, face.emissive, face.shaded, face.texture))
        return Solid(
            net_full.name, tuple(faces), net_full.anchor, net_full.layer, False, None, net_full.key
        )

    worker_seed = _frozen(rng)
    view_yaw = math.radians(camera.yaw_deg)

    def worker(t: float) -> Solid | None:
        if not t_pull - 2.0 <= t < t_pull + pull + 2.0:
            return None
        p = min(1.0, max(0.0, (t - t_pull) / pull))
        x = hx - direction * radius * 0.2 + direction * (2.2 * radius * p)
        return objects.person(
            np.random.default_rng(worker_seed),
            x,
            hy - radius - 0.5,
            view_yaw,
            phase=x * 2.2,
            umbrella=False,
            key="worker",
        )

    actors: list[Script] = [_static(soil, 0.0), net, worker]
    actors += _vehicles(rng, camera, seconds, 5.0, "car")
    return Stage(camera, _conditions(rng, light), street, tuple(actors), _caption(rng))


_STAGES: dict[str, Callable[[np.random.Generator, int, int, float, Light], Stage]] = {
    "stall_setup": _stall_setup,
    "goods_spill": _goods_spill,
    "open_truck": _open_truck,
    "net_removed": _net_removed,
}
