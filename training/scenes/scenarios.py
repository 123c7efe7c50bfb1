"""Short scripted scenario clips (H.264 MP4) with ground-truth timelines, for end-to-end tests.

Scenarios (``SCENARIOS``):

* ``stall_setup``: a vendor walks up and opens an umbrella stall on the pavement a few seconds
  in; it stays to the end while people and cars pass.
* ``goods_spill``: goods come out of a shop door in three steps, each further onto the pavement.
* ``open_truck``: a muck truck with a covered load drives through, later one with an open load.
* ``net_removed``: a green dust net is pulled off a soil heap in the construction site.

Their stages come from :mod:`training.scenes.stages`, which the rule scenarios
(:mod:`training.scenes.rule_scenarios`) set theirs with too. Script times are fractions of
the clip length, so short clips (tests) keep every event.
The timeline records, per object, when it is *visible* (labelled) in the frames, and
optionally its box in every frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from training.scenes.classes import CLASSES
from training.scenes.render import ImageArray, Light
from training.scenes.scenery import Shop
from training.scenes.stages import (
    GoodsStep,
    TruckPass,
    goods_stage,
    site_stage,
    stall_stage,
    trucks_stage,
)
from training.scenes.staging import Film, Stage

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

    film = Film(stage, rng, noise_frames=5)
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
            canvas = film.scene(t)
            stamp = f"{stage.caption}  {int(t) // 60:02d}:{int(t) % 60:02d}.{int(t * 10) % 10}"
            image = film.photo(canvas, i, stamp)
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


# -- the clips' stages ---------------------------------------------------------------------

_Builder = Callable[[np.random.Generator, int, int, float, Light], Stage]


def _spill(shop: Shop, side: float) -> tuple[GoodsStep, ...]:
    """Three steps, each further onto the pavement."""
    return (
        GoodsStep(0.12, shop.door_x + side * (shop.door_w / 2 + 0.9), 0.6, 0),
        GoodsStep(0.35, shop.door_x, 1.5, 1),
        GoodsStep(0.6, shop.door_x - side * 0.4, 2.7, 2),
    )


_OPEN_TRUCK = (TruckPass("truck-covered", covered=True), TruckPass("truck-open", covered=False))

_STAGES: dict[str, _Builder] = {
    "stall_setup": lambda rng, w, h, s, light: stall_stage(rng, w, h, s, light).stage,
    "goods_spill": lambda rng, w, h, s, light: goods_stage(rng, w, h, s, light, _spill).stage,
    "open_truck": lambda rng, w, h, s, light: (
        trucks_stage(rng, w, h, s, light, _OPEN_TRUCK, max_speed_ms=12.0).stage
    ),
    "net_removed": lambda rng, w, h, s, light: (
        site_stage(rng, w, h, s, light, pull=True, worker=True).stage
    ),
}
