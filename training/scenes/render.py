"""Drawing solids into an image with visible-box labels, and the camera's imperfections.

The renderer is a painter: ground first, then shadows, then everything upright from far to
near. Every labelled solid also writes its index into an id buffer, so after drawing, the
pixels that still carry an object's index are exactly the ones it shows; its label box is
their bounding box (a modal box: what a viewer can see of it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt

from training.scenes.camera import Camera
from training.scenes.classes import CLASSES
from training.scenes.geometry import Face, Layer, Solid, Texture

ImageArray = npt.NDArray[np.uint8]

MIN_VISIBLE_FRACTION = 0.4
"""Objects showing less of themselves than this (occlusion) are not labelled."""
MIN_IN_FRAME_FRACTION = 0.4
"""Objects with less than this share of their outline inside the image are not labelled."""
MIN_BOX_FRACTION = 0.025
"""Label boxes narrower or shorter than this share of the output width are dropped (8 px at
320 px: smaller objects cannot be evidence and a stride-8 detector cannot localise them)."""
MIN_CONTRAST = 10.0
"""Objects whose visible pixels differ from their surroundings, and vary inside, by less than
this (8-bit levels, after lighting) are not labelled: a person would not see them either
(an unlit object at night, a grey box in grey infrared)."""

NIGHT_TARGET_MEAN = 70.0
"""Mean 8-bit level that a night camera's auto-exposure aims for (before the exposure jitter)."""

_SUBPIXEL_SHIFT = 4
_SUBPIXEL = float(1 << _SUBPIXEL_SHIFT)


class Light(StrEnum):
    """Illumination of a scene."""

    DAY = "day"
    DUSK = "dusk"
    NIGHT = "night"
    NIGHT_IR = "night_ir"
    """Night seen by a camera in infrared mode: grey, flat, noisy."""


@dataclass(frozen=True, slots=True)
class Conditions:
    """Light, weather and sensor of one rendering.

    Attributes:
        light: Illumination.
        sun_azimuth_deg: Sun direction in the ground plane (degrees from +x).
        sun_elevation_deg: Sun height above the horizon (degrees).
        rain: Rain intensity, 0 (dry) to 1 (downpour).
        noise_sigma: Sensor noise standard deviation, in 8-bit levels.
        blur_sigma: Optical blur, Gaussian sigma in output pixels.
        jpeg_quality: JPEG quality the image is saved at (dataset images only).
        overlay: Burn a camera timestamp into the top-left corner.
        exposure: Overall gain.
    """

    light: Light
    sun_azimuth_deg: float
    sun_elevation_deg: float
    rain: float
    noise_sigma: float
    blur_sigma: float
    jpeg_quality: int
    overlay: bool
    exposure: float

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Conditions:
        """Draw conditions with the mix used for training data."""
        r = rng.random()
        light = (
            Light.DAY
            if r < 0.55
            else Light.DUSK
            if r < 0.72
            else Light.NIGHT
            if r < 0.9
            else Light.NIGHT_IR
        )
        night = light in (Light.NIGHT, Light.NIGHT_IR)
        return cls(
            light=light,
            sun_azimuth_deg=float(rng.uniform(0, 360)),
            sun_elevation_deg=float(
                rng.uniform(25, 70) if light == Light.DAY else rng.uniform(8, 20)
            ),
            rain=float(rng.uniform(0.2, 1.0)) if rng.random() < 0.2 else 0.0,
            noise_sigma=float(rng.uniform(4, 10) if night else rng.uniform(0.5, 5)),
            blur_sigma=float(rng.uniform(0, 1.1)),
            jpeg_quality=int(rng.integers(35, 95)),
            overlay=bool(rng.random() < 0.5),
            exposure=float(rng.uniform(0.85, 1.15)),
        )

    @property
    def night(self) -> bool:
        """Whether it is dark."""
        return self.light in (Light.NIGHT, Light.NIGHT_IR)

    def sun_vector(self) -> npt.NDArray[np.float64]:
        """Unit vector pointing at the sun."""
        az = math.radians(self.sun_azimuth_deg)
        el = math.radians(self.sun_elevation_deg)
        return np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])


@dataclass(frozen=True, slots=True)
class LabeledBox:
    """A visible labelled object in a rendered image.

    Attributes:
        class_id: Index into :data:`~training.scenes.classes.CLASSES`.
        xyxy: Visible box ``(x0, y0, x1, y1)`` in image pixels.
        visible_fraction: Share of the object's in-frame outline that is not occluded.
        covered: For trucks, whether the load is covered; ``None`` otherwise.
        key: The solid's identity across video frames (``""`` for single images).
    """

    class_id: int
    xyxy: tuple[float, float, float, float]
    visible_fraction: float
    covered: bool | None
    key: str

    @property
    def name(self) -> str:
        """Class name."""
        return CLASSES[self.class_id]


class Canvas:
    """One image being drawn from one camera.

    Args:
        camera: The camera; its size is the canvas size.
        conditions: Light and weather (shading and shadows depend on it).
        rng: Random generator for textures.
        background: Optional pre-drawn image to start from (video frames reuse the scenery).
    """

    def __init__(
        self,
        camera: Camera,
        conditions: Conditions,
        rng: np.random.Generator,
        background: ImageArray | None = None,
        emissive: npt.NDArray[np.uint8] | None = None,
    ) -> None:
        self.camera = camera
        self.conditions = conditions
        self.rng = rng
        h, w = camera.height, camera.width
        self.image: ImageArray = (
            background.copy() if background is not None else _sky(camera, conditions)
        )
        self.ids = np.zeros((h, w), dtype=np.int16)
        self.emissive: npt.NDArray[np.uint8] = (
            emissive.copy() if emissive is not None else np.zeros((h, w), dtype=np.uint8)
        )
        self._textures: dict[Texture, npt.NDArray[np.float32]] = {}
        self._labelled: list[tuple[Solid, tuple[int, int, int, int], int, float]] = []
        self._sun = conditions.sun_vector()
        self._cam_pos = np.asarray(camera.position, dtype=np.float64)

    # -- drawing -------------------------------------------------------------------------

    def draw(self, solids: list[Solid] | tuple[Solid, ...]) -> None:
        """Draw solids in painter's order: ground, shadows, then upright far-to-near."""
        ground = [s for s in solids if s.layer == Layer.GROUND]
        upright = [s for s in solids if s.layer != Layer.GROUND]
        for solid in ground:
            self._draw_solid(solid)
        if self.conditions.light in (Light.DAY, Light.DUSK):
            self._shadows(upright)
        cam = self.camera
        upright.sort(key=lambda s: (int(s.layer), -cam.depth_of(s.anchor)))
        for solid in upright:
            self._draw_solid(solid)

    def _draw_solid(self, solid: Solid) -> None:
        polys: list[tuple[Face, npt.NDArray[np.int32]]] = []
        cam = self.camera
        depths: list[float] = []
        for face in solid.faces:
            uv = cam.project_polygon(face.points)
            if uv is None:
                continue
            if (
                uv[:, 0].max() < 0
                or uv[:, 1].max() < 0
                or uv[:, 0].min() >= cam.width
                or uv[:, 1].min() >= cam.height
            ):
                continue
            polys.append((face, np.round(uv * _SUBPIXEL).astype(np.int32)))
            depths.append(float(cam.to_camera(face.points.mean(axis=0, keepdims=True))[0, 2]))
        if not polys:
            return
        if solid.layer in (Layer.BACKDROP, Layer.FENCE):
            # Facades and hoardings are layered parallel planes (wall, shopfront, door, sign):
            # their list order is their drawing order; centroid depth of a 300 m wall is not.
            order: list[int] = list(range(len(polys)))
        elif solid.layer != Layer.GROUND:
            order = np.argsort(-np.asarray(depths), kind="stable").tolist()
        elif solid.name and len(polys) > 1:
            order = [0, *(1 + np.argsort(-np.asarray(depths[1:]), kind="stable")).tolist()]
        else:
            order = list(range(len(polys)))
        label = bool(solid.name)
        index = len(self._labelled) + 1 if label else 0
        for i in order:
            face, p = polys[i]
            self._fill(face, p, index)
        if label:
            all_pts = np.concatenate([p for _, p in polys]).astype(np.float64) / _SUBPIXEL
            x0 = int(max(0, math.floor(all_pts[:, 0].min())))
            y0 = int(max(0, math.floor(all_pts[:, 1].min())))
            x1 = int(min(cam.width, math.ceil(all_pts[:, 0].max()) + 1))
            y1 = int(min(cam.height, math.ceil(all_pts[:, 1].max()) + 1))
            if x1 <= x0 or y1 <= y0:
                self._labelled.append((solid, (0, 0, 0, 0), 0, 0.0))
                return
            local = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
            shifted = [
                p - np.array([x0 * _SUBPIXEL, y0 * _SUBPIXEL], dtype=np.int32) for _, p in polys
            ]
            for poly in shifted:  # one call per polygon: a multi-polygon fill is even-odd
                cv2.fillPoly(local, [poly], 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_SHIFT)
            area = int(np.count_nonzero(local))
            self._labelled.append((solid, (x0, y0, x1, y1), area, _in_frame_fraction(all_pts, cam)))

    def _fill(self, face: Face, p: npt.NDArray[np.int32], index: int) -> None:
        color = face.color
        if face.shaded:
            color = self._shade(face)
        if face.texture == Texture.NONE:
            cv2.fillPoly(self.image, [p], color, lineType=cv2.LINE_AA, shift=_SUBPIXEL_SHIFT)
        else:
            self._fill_textured(face, p, color)
        cv2.fillPoly(self.ids, [p], index, lineType=cv2.LINE_8, shift=_SUBPIXEL_SHIFT)
        if self.conditions.night:
            cv2.fillPoly(
                self.emissive,
                [p],
                255 if face.emissive else 0,
                lineType=cv2.LINE_8,
                shift=_SUBPIXEL_SHIFT,
            )

    def _shade(self, face: Face) -> tuple[int, int, int]:
        pts3 = face.points
        n = np.cross(pts3[1] - pts3[0], pts3[2] - pts3[0])
        norm = float(np.linalg.norm(n))
        if norm < 1e-9:
            return face.color
        n = n / norm
        if float(n @ (self._cam_pos - pts3[0])) < 0:
            n = -n
        if self.conditions.night:
            k = 0.75 + 0.25 * max(0.0, float(n[2]))
        else:
            k = 0.55 + 0.5 * max(0.0, float(n @ self._sun))
        c = face.color
        return (min(255, int(c[0] * k)), min(255, int(c[1] * k)), min(255, int(c[2] * k)))

    def _texture(self, kind: Texture) -> npt.NDArray[np.float32]:
        tex = self._textures.get(kind)
        if tex is None:
            tex = _make_texture(kind, self.camera.height, self.camera.width, self.rng)
            self._textures[kind] = tex
        return tex

    def _fill_textured(
        self, face: Face, p: npt.NDArray[np.int32], color: tuple[int, int, int]
    ) -> None:
        h, w = self.camera.height, self.camera.width
        xs = p[:, 0] >> _SUBPIXEL_SHIFT
        ys = p[:, 1] >> _SUBPIXEL_SHIFT
        x0, x1 = max(0, int(xs.min())), min(w, int(xs.max()) + 2)
        y0, y1 = max(0, int(ys.min())), min(h, int(ys.max()) + 2)
        if x1 <= x0 or y1 <= y0:
            return
        local = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        offset = np.array([x0 << _SUBPIXEL_SHIFT, y0 << _SUBPIXEL_SHIFT], dtype=np.int32)
        cv2.fillPoly(local, [p - offset], 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_SHIFT)
        mask = local.astype(bool)
        tex = self._texture(face.texture)[y0:y1, x0:x1]
        col = np.asarray(color, dtype=np.float32)
        region = self.image[y0:y1, x0:x1]
        region[mask] = np.clip(tex[mask][:, None] * col, 0, 255).astype(np.uint8)

    def _shadows(self, upright: list[Solid]) -> None:
        sun = self._sun
        if sun[2] <= 0.05:
            return
        shift = sun[:2] / sun[2]
        mask = np.zeros((self.camera.height, self.camera.width), dtype=np.uint8)
        for solid in upright:
            if not solid.casts_shadow:
                continue
            if solid.layer == Layer.BACKDROP:
                hulls = [face.points for face in solid.faces[:1]]
            else:
                hulls = [np.concatenate([face.points for face in solid.faces])]
            for p3 in hulls:
                flat = p3.copy()
                flat[:, 0] -= p3[:, 2] * shift[0]
                flat[:, 1] -= p3[:, 2] * shift[1]
                flat[:, 2] = 0.0
                both = np.concatenate([p3[p3[:, 2] < 0.05], flat])
                uv, depth = self.camera.project(both)
                if (depth < 0.5).any():
                    continue
                hull = cv2.convexHull(np.round(uv * _SUBPIXEL).astype(np.int32))
                cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_SHIFT)
        if not mask.any():
            return
        strength = 0.45 if self.conditions.light == Light.DAY else 0.25
        soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.5)
        self.image[:] = (self.image.astype(np.float32) * (1.0 - strength * soft[..., None])).astype(
            np.uint8
        )

    # -- results -------------------------------------------------------------------------

    def labels(self, scale: float = 1.0, seen: ImageArray | None = None) -> list[LabeledBox]:
        """Visible boxes of the labelled solids drawn so far.

        Args:
            scale: Factor from canvas pixels to output pixels (for the minimum box size and
                the returned coordinates).
            seen: The lit image in output pixels; when given, objects that do not stand out
                from their surroundings in it (:data:`MIN_CONTRAST`) are not labelled.
        """
        out: list[LabeledBox] = []
        for index, (solid, (x0, y0, x1, y1), area, in_frame) in enumerate(self._labelled, start=1):
            if area == 0 or in_frame < MIN_IN_FRAME_FRACTION:
                continue
            region = self.ids[y0:y1, x0:x1] == index
            visible = int(np.count_nonzero(region))
            if visible == 0:
                continue
            fraction = visible / area
            if fraction < MIN_VISIBLE_FRACTION:
                continue
            rows = np.flatnonzero(region.any(axis=1))
            cols = np.flatnonzero(region.any(axis=0))
            box = (
                (x0 + float(cols[0])) * scale,
                (y0 + float(rows[0])) * scale,
                (x0 + float(cols[-1]) + 1.0) * scale,
                (y0 + float(rows[-1]) + 1.0) * scale,
            )
            min_px = MIN_BOX_FRACTION * self.camera.width * scale
            if box[2] - box[0] < min_px or box[3] - box[1] < min_px:
                continue
            if seen is not None:
                visible_mask = region[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
                if _contrast(seen, box, visible_mask) < MIN_CONTRAST:
                    continue
            out.append(
                LabeledBox(CLASSES.index(solid.name), box, fraction, solid.covered, solid.key)
            )
        return out

    def lit(self, lamps: tuple[tuple[float, float, float], ...] = ()) -> ImageArray:
        """The drawn image under the scene's light (day, dusk, night or infrared)."""
        return apply_light(self.image, self.emissive, self.camera, self.conditions, lamps)


def _contrast(
    image: ImageArray, box: tuple[float, float, float, float], mask: npt.NDArray[np.bool_]
) -> float:
    """How much an object stands out in ``image``: the larger of the colour difference between
    its pixels and a ring around them and the spread of its own brightness (8-bit levels)."""
    h, w = image.shape[:2]
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, max(x0 + 1, round(box[2]))), min(h, max(y0 + 1, round(box[3])))
    inside = np.zeros((h, w), dtype=np.uint8)
    inside[y0:y1, x0:x1] = cv2.resize(
        mask.astype(np.uint8), (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST
    )
    if not inside.any():
        return 0.0
    pad = max(2, round(0.15 * max(x1 - x0, y1 - y0)))
    grown = cv2.dilate(inside, np.ones((2 * pad + 1, 2 * pad + 1), np.uint8))
    ring = (grown > 0) & (inside == 0)
    obj = image[inside > 0].astype(np.float32)
    spread = float(obj.mean(axis=1).std())
    if not ring.any():
        return spread
    around = image[ring].astype(np.float32)
    difference = float(np.abs(obj.mean(axis=0) - around.mean(axis=0)).max())
    return max(difference, spread)


def _in_frame_fraction(points: npt.NDArray[np.float64], cam: Camera) -> float:
    hull = cv2.convexHull(points.astype(np.float32))
    area = float(cv2.contourArea(hull))
    if area <= 1e-6:
        return 0.0
    rect = np.array(
        [[0, 0], [cam.width, 0], [cam.width, cam.height], [0, cam.height]], dtype=np.float32
    )
    inter, _ = cv2.intersectConvexConvex(hull, rect)
    return float(inter) / area


def _sky(camera: Camera, conditions: Conditions) -> ImageArray:
    h, w = camera.height, camera.width
    horizon = camera.horizon_v()
    if conditions.light == Light.DAY:
        top, low = np.array([200, 160, 120]), np.array([230, 215, 200])
    elif conditions.light == Light.DUSK:
        top, low = np.array([120, 70, 60]), np.array([90, 150, 230])
    else:
        top, low = np.array([40, 20, 10]), np.array([70, 50, 40])
    rows = np.arange(h, dtype=np.float32)
    t = np.clip((rows - (horizon - h)) / max(1.0, h), 0.0, 1.0)[:, None]
    col = top[None, :] * (1 - t) + low[None, :] * t
    return np.repeat(col[:, None, :], w, axis=1).astype(np.uint8)


def _make_texture(
    kind: Texture, h: int, w: int, rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    if kind == Texture.GRAIN:
        fine = rng.normal(0.0, 1.0, (h, w)).astype(np.float32)
        return 1.0 + 0.06 * cv2.GaussianBlur(fine, (0, 0), 0.8)
    if kind == Texture.SOIL:
        coarse = cv2.resize(
            rng.normal(0.0, 1.0, (h // 16 + 2, w // 16 + 2)).astype(np.float32),
            (w, h),
            interpolation=cv2.INTER_CUBIC,
        )
        fine = rng.normal(0.0, 1.0, (h, w)).astype(np.float32)
        specks = (rng.random((h, w)) < 0.02).astype(np.float32)
        soil: npt.NDArray[np.float32] = np.clip(
            1.0 + 0.12 * coarse + 0.08 * fine - 0.35 * specks, 0.4, 1.6
        ).astype(np.float32)
        return soil
    if kind == Texture.NET:
        yy, xx = np.mgrid[0:h, 0:w]
        period = 3
        grid = (((xx + yy) % period == 0) | ((xx - yy) % period == 0)).astype(np.float32)
        folds = cv2.resize(
            rng.normal(0.0, 1.0, (h // 12 + 2, w // 12 + 2)).astype(np.float32),
            (w, h),
            interpolation=cv2.INTER_CUBIC,
        )
        net: npt.NDArray[np.float32] = np.clip(1.0 + 0.18 * folds - 0.22 * grid, 0.5, 1.5).astype(
            np.float32
        )
        return net
    return np.ones((h, w), dtype=np.float32)


def apply_light(
    image: ImageArray,
    emissive: npt.NDArray[np.uint8],
    camera: Camera,
    conditions: Conditions,
    lamps: tuple[tuple[float, float, float], ...] = (),
) -> ImageArray:
    """Apply the scene light to a drawn image.

    Args:
        image: The drawn BGR image (daylight colours).
        emissive: ``uint8`` mask of glowing pixels (used at night).
        camera: The camera (to place lamp light pools).
        conditions: The light.
        lamps: World positions of street lamps.

    Returns:
        A new BGR image.
    """
    img = image.astype(np.float32)
    light = conditions.light
    if light == Light.DAY:
        out = img * conditions.exposure
    elif light == Light.DUSK:
        out = img * np.array([0.55, 0.62, 0.78], dtype=np.float32) * conditions.exposure
        glow = emissive.astype(np.float32)[..., None] / 255.0
        out = out * (1 - glow) + img * glow
    else:
        ambient = np.full(img.shape[:2], 0.16, dtype=np.float32)
        for lamp in lamps:
            uv, depth = camera.project(
                np.array([[lamp[0], lamp[1], 0.0], [lamp[0] + 6.0, lamp[1], 0.0]])
            )
            if depth.min() < 1.0:
                continue
            r = float(np.linalg.norm(uv[1] - uv[0]))
            cx, cy = float(uv[0, 0]), float(uv[0, 1])
            if r < 2 or cx < -r or cy < -r or cx > camera.width + r or cy > camera.height + r:
                continue
            cv2.ellipse(
                ambient,
                (round(cx), round(cy)),
                (max(1, round(r)), max(1, round(r * 0.6))),
                0,
                0,
                360,
                0.55,
                -1,
            )
        ambient = np.asarray(
            cv2.GaussianBlur(ambient, (0, 0), max(2.0, camera.width / 80)), dtype=np.float32
        )
        glow_mask = emissive.astype(np.float32) / 255.0
        tint = np.array([1.15, 1.0, 0.85], dtype=np.float32) if light == Light.NIGHT else 1.0
        out = img * ambient[..., None] * tint
        out = (
            out * (1 - glow_mask[..., None])
            + np.minimum(img * 1.3 + 40, 255) * glow_mask[..., None]
        )
        halo = cv2.GaussianBlur(glow_mask, (0, 0), max(2.0, camera.width / 150))
        out += 90.0 * halo[..., None] * np.array([0.8, 0.95, 1.0], dtype=np.float32)
        if light == Light.NIGHT:
            # Auto-exposure, as every CCTV camera has: gain the dark frame up towards a
            # mid-grey mean (lights clip and bloom; the sensor noise added later grows
            # relative to the signal, as it does with real gain).
            mean = float(out.mean())
            out = out * min(3.5, max(1.0, NIGHT_TARGET_MEAN * conditions.exposure / max(mean, 1.0)))
        if light == Light.NIGHT_IR:
            grey = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(
                np.float32
            )
            grey = (
                cv2.cvtColor(
                    cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY),
                    cv2.COLOR_GRAY2BGR,
                )[..., 0].astype(np.float32)
                * 0.55
                + grey * 0.6
                + 25
            )
            out = np.repeat(grey[..., None], 3, axis=2)
    result: ImageArray = np.clip(out, 0, 255).astype(np.uint8)
    return result


def add_rain(image: ImageArray, rain: float, rng: np.random.Generator) -> ImageArray:
    """Overlay falling rain streaks and the haze of a wet day."""
    if rain <= 0:
        return image
    h, w = image.shape[:2]
    layer = np.zeros((h, w), dtype=np.uint8)
    count = int(rain * h * w / 900)
    slant = float(rng.uniform(-0.3, 0.3))
    length = max(4.0, h / 30)
    xs = rng.uniform(0, w, count)
    ys = rng.uniform(0, h, count)
    ls = rng.uniform(0.5, 1.0, count) * length
    for x, y, ln in zip(xs, ys, ls, strict=True):
        cv2.line(layer, (int(x), int(y)), (int(x + slant * ln), int(y + ln)), 255, 1, cv2.LINE_AA)
    layer = np.asarray(cv2.GaussianBlur(layer, (3, 3), 0), dtype=np.uint8)
    out = image.astype(np.float32) * (1.0 - 0.15 * rain) + 25.0 * rain
    out += layer.astype(np.float32)[..., None] * 0.35
    result: ImageArray = np.clip(out, 0, 255).astype(np.uint8)
    return result


def add_sensor(image: ImageArray, conditions: Conditions, rng: np.random.Generator) -> ImageArray:
    """Add optical blur and sensor noise (in the output resolution)."""
    out = image
    if conditions.blur_sigma > 0.3:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), conditions.blur_sigma), dtype=np.uint8)
    if conditions.noise_sigma > 0:
        noise = rng.normal(0.0, conditions.noise_sigma, out.shape[:2]).astype(np.float32)
        colour = rng.normal(0.0, conditions.noise_sigma * 0.4, out.shape).astype(np.float32)
        out = np.clip(out.astype(np.float32) + noise[..., None] + colour, 0, 255).astype(np.uint8)
    return out


def add_overlay(image: ImageArray, text: str) -> ImageArray:
    """Burn a camera caption (timestamp, camera name) into the top-left corner."""
    out = image.copy()
    h, w = out.shape[:2]
    scale = max(0.3, w / 1600)
    org = (int(w * 0.02), int(h * 0.02 + 25 * scale))
    thick = max(1, round(scale * 2))
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(
        out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA
    )
    return out
