"""Rendered objects pasted onto real frames: scale from the frame's perspective, light from LAB.

* :func:`guess_perspective` fits the ground-plane rule "an object's height in pixels grows
  linearly with how far its foot is below the horizon" (``h_px = k * H_m * (y_foot - y_h)``)
  to the people, cars and trucks a teacher found in the frame (known real heights), and falls
  back to a typical pole camera when they do not pin it down.
* :func:`render_cutout` draws one labelled object of :mod:`training.scenes.objects` (a stall,
  goods, a dust net, a truck) alone with the scenes' own camera and canvas, with its mask and
  the pixels per metre at its anchor.
* :func:`paste` scales the cut-out to the metres-per-pixel of the row it stands on, matches
  its light to the background under it (mean and standard deviation per LAB channel), and
  blends it in with a feathered mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from training.scenes import objects
from training.scenes.camera import Camera
from training.scenes.geometry import Solid
from training.scenes.render import Canvas, Conditions, ImageArray, Light

REAL_HEIGHT_M: dict[str, float] = {"person": 1.7, "car": 1.5, "truck": 3.2}
"""Typical heights of the objects a teacher finds, for the perspective fit."""

PASTED = ("stall", "goods", "dust_net", "truck")
"""The classes pasted onto real backgrounds."""

MIN_BOX_PX = 8
"""Pasted objects smaller than this on either side are not used."""


@dataclass(frozen=True, slots=True)
class Perspective:
    """Pixels per metre of an upright object as a function of the image row of its foot.

    Attributes:
        horizon_y: Image row of the horizon (may be above the image: negative).
        k: Pixels per metre per row below the horizon.
        fitted: Whether it was fitted to the frame's objects (else the fallback guess).
    """

    horizon_y: float
    k: float
    fitted: bool

    def px_per_m(self, foot_y: float) -> float:
        """Pixels per metre at an object whose foot is on row ``foot_y`` (0 above the horizon)."""
        return max(0.0, self.k * (foot_y - self.horizon_y))


@dataclass(frozen=True, slots=True)
class SeenObject:
    """An object found in a real frame: class name and box in pixels."""

    name: str
    xyxy: tuple[float, float, float, float]


def guess_perspective(seen: list[SeenObject], height: int) -> Perspective:
    """Fit the ground-plane perspective of a frame to the objects found in it.

    Each object of a known height ``H`` with foot row ``y`` and box height ``h`` gives
    ``h / H = k * y - k * y_h``; two or more with feet at different rows fix ``k`` and ``y_h``
    by least squares. Otherwise (or when the fit is implausible: ``k <= 0``, horizon below an
    object's foot) a pole camera is assumed: horizon at 20 % of the height, a 1.7 m person at
    the bottom row 35 % of the image tall, or, with one object, the same horizon and that
    object's scale.

    Args:
        seen: Objects found in the frame (classes of :data:`REAL_HEIGHT_M`; others ignored).
        height: Image height in pixels.
    """
    rows = [
        (o.xyxy[3], (o.xyxy[3] - o.xyxy[1]) / REAL_HEIGHT_M[o.name])
        for o in seen
        if o.name in REAL_HEIGHT_M
    ]
    rows = [r for r in rows if r[1] > 0 and math.isfinite(r[0]) and math.isfinite(r[1])]
    feet = np.array([r[0] for r in rows], dtype=np.float64)
    scale = np.array([r[1] for r in rows], dtype=np.float64)
    if len(rows) >= 2 and feet.std() > 0.05 * height:
        k, c = np.polyfit(feet, scale, 1)
        horizon = -c / k if k > 0 else math.inf
        if k > 0 and horizon < feet.min() - 0.02 * height:
            return Perspective(float(horizon), float(k), True)
    horizon = 0.2 * height
    if len(rows) >= 1:
        k = float(np.median(scale / np.maximum(feet - horizon, 1.0)))
        return Perspective(horizon, k, False)
    return Perspective(horizon, 0.35 * height / 1.7 / (height - horizon), False)


@dataclass(frozen=True, slots=True)
class Cutout:
    """One rendered object alone.

    Attributes:
        name: Its class.
        image: BGR pixels of its bounding box.
        mask: ``uint8`` 0/255 of the same size: where the object is.
        px_per_m: Pixels per metre at its anchor in the rendering.
        covered: For trucks, whether the load is covered; else ``None``.
    """

    name: str
    image: ImageArray
    mask: npt.NDArray[np.uint8]
    px_per_m: float
    covered: bool | None


def _solid(rng: np.random.Generator, name: str, yaw: float) -> Solid:
    if name == "stall":
        return objects.stall(rng, 0.0, 0.0, yaw)
    if name == "goods":
        return objects.goods(rng, 0.0, 0.0)
    if name == "dust_net":
        radius = float(rng.uniform(2.0, 5.0))
        heap = float(rng.uniform(0.8, 2.0)) if rng.random() < 0.5 else 0.0
        return objects.dust_net(rng, 0.0, 0.0, radius=radius, heap=heap)
    if name == "truck":
        return objects.truck(rng, 0.0, 0.0, yaw, covered=bool(rng.random() < 0.5))
    raise ValueError(f"cannot paste {name!r}; pasted classes are {PASTED}")


def render_cutout(rng: np.random.Generator, name: str, pitch_deg: float) -> Cutout | None:
    """Render one ``name`` object (random variant) seen from a camera pitched ``pitch_deg``.

    Returns:
        The cut-out, or ``None`` when it came out empty (a rare degenerate draw).
    """
    yaw = float(rng.uniform(0, 2 * math.pi))
    solid = _solid(rng, name, yaw)
    distance = 14.0 if name in ("truck", "dust_net") else 7.0
    height = max(1.0, distance * math.tan(math.radians(pitch_deg)))
    camera = Camera((-distance, 0.0, height), 0.0, pitch_deg, 55.0, 640, 480)
    day = Conditions(
        light=Light.DAY,
        sun_azimuth_deg=float(rng.uniform(0, 360)),
        sun_elevation_deg=float(rng.uniform(30, 70)),
        rain=0.0,
        noise_sigma=0.0,
        blur_sigma=0.0,
        jpeg_quality=95,
        overlay=False,
        exposure=1.0,
    )
    canvas = Canvas(camera, day, rng, background=np.zeros((480, 640, 3), dtype=np.uint8))
    canvas.draw([solid])
    image = canvas.lit()
    mask = np.where(canvas.ids > 0, 255, 0).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    if len(xs) < 20:
        return None
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    px_per_m = camera.focal_px / camera.depth_of(solid.anchor)
    return Cutout(
        name,
        np.ascontiguousarray(image[y0:y1, x0:x1]),
        np.ascontiguousarray(mask[y0:y1, x0:x1]),
        px_per_m,
        solid.covered,
    )


def match_light(
    cutout: ImageArray, mask: npt.NDArray[np.bool_], background: ImageArray
) -> ImageArray:
    """Give the object's pixels the mean and standard deviation of ``background`` in LAB.

    Lightness keeps at least half and at most twice its own contrast; colour follows the
    background fully, so an object pasted onto a greyscale frame comes out grey.
    """
    lab = cv2.cvtColor(cutout, cv2.COLOR_BGR2LAB).astype(np.float32)
    bg = cv2.cvtColor(background, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(np.float32)
    pixels = lab[mask]
    if len(pixels) == 0:
        return cutout
    mu, sd = pixels.mean(0), pixels.std(0) + 1e-3
    bmu, bsd = bg.mean(0), bg.std(0)
    ratio = bsd / sd
    ratio[0] = float(np.clip(ratio[0], 0.5, 2.0))
    ratio[1:] = np.clip(ratio[1:], 0.0, 1.5)
    lab[mask] = (pixels - mu) * ratio + bmu
    out = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR)
    return np.asarray(out, dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class Pasted:
    """Where a cut-out went: class, box in pixels, truck cover, and its mask in the frame."""

    name: str
    xyxy: tuple[float, float, float, float]
    covered: bool | None
    mask: npt.NDArray[np.bool_]


def paste(
    frame: ImageArray,
    cutout: Cutout,
    perspective: Perspective,
    foot: tuple[float, float],
) -> Pasted | None:
    """Paste ``cutout`` into ``frame`` (in place) with its bottom centre at ``foot`` (x, y).

    Returns:
        Where it went, or ``None`` when it would be smaller than :data:`MIN_BOX_PX` or fall
        mostly outside the frame (nothing is drawn then).
    """
    h, w = frame.shape[:2]
    scale = perspective.px_per_m(foot[1]) / cutout.px_per_m
    ch, cw = cutout.image.shape[:2]
    nh, nw = round(ch * scale), round(cw * scale)
    if nh < MIN_BOX_PX or nw < MIN_BOX_PX or nh > 2 * h or nw > 2 * w:
        return None
    image = np.asarray(cv2.resize(cutout.image, (nw, nh), interpolation=cv2.INTER_AREA), np.uint8)
    mask = cv2.resize(cutout.mask, (nw, nh), interpolation=cv2.INTER_AREA)
    x0, y0 = round(foot[0] - nw / 2), round(foot[1] - nh)
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(w, x0 + nw), min(h, y0 + nh)
    if (fx1 - fx0) * (fy1 - fy0) < 0.6 * nw * nh:
        return None
    crop = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
    image, mask = image[crop], mask[crop]
    inside = mask > 127
    ys, xs = np.nonzero(inside)
    if len(xs) == 0 or np.ptp(xs) + 1 < MIN_BOX_PX or np.ptp(ys) + 1 < MIN_BOX_PX:
        return None
    region = frame[fy0:fy1, fx0:fx1]
    pad = max(4, (fx1 - fx0) // 2)
    around = frame[max(0, fy0 - pad) : min(h, fy1 + pad), max(0, fx0 - pad) : min(w, fx1 + pad)]
    lit = match_light(image, inside, around)
    alpha = cv2.GaussianBlur(mask, (3, 3), 0).astype(np.float32)[:, :, None] / 255.0
    region[:] = np.clip(lit * alpha + region * (1.0 - alpha), 0, 255).astype(np.uint8)
    box = (fx0 + float(xs.min()), fy0 + float(ys.min()), fx0 + xs.max() + 1.0, fy0 + ys.max() + 1.0)
    full = np.zeros((h, w), dtype=bool)
    full[fy0:fy1, fx0:fx1] = inside
    return Pasted(cutout.name, box, cutout.covered, full)
