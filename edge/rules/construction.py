"""The construction-site rule (文明施工): bare soil not under dust nets, and site sensors.

**Bare-soil share (camera).** Each analysed frame, the detector's ``bare_soil`` and
``dust_net`` boxes (score at least ``min_score``) are rasterised onto a grid over the zone
(``raster_px`` cells along its longer side): the share is the part of the zone's area
(exclusions removed) that lies under a bare-soil box and under no dust-net box. The share
is smoothed as the median over ``smoothing_s`` seconds of frames. When it stays above
``max_bare_share`` for the zone's ``dwell_s``, the condition ``bare_soil`` holds.

Why boxes rather than a colour / texture measure: the detector already separates soil from
net, concrete and shadow under every light the scene generator renders (day, dusk, night,
infrared), where a calibrated colour threshold would need one calibration per camera and
per lighting and confuses brown hoardings, rust and wet asphalt with soil. Boxes
over-estimate irregular heaps, so the threshold is a share of *box* area; it is cheap (no
pixels read) and explained by the annotated evidence frame.

**Sensors.** Samples of the zone's ``site_id`` (dust PM10 / PM2.5, noise) feed a rolling
mean per sensor and limit (``sensor_limits``: a 15-minute mean of PM10 above 150 ug/m3 by
default; noise as an energy mean with a day and a night limit). A mean counts once its
samples span ``min_coverage`` of the window; a sensor silent for a whole window stops
counting. A mean above its limit is the condition named by its quantity (``pm10``).

**One case per site episode.** The case opens when the first condition holds (its label is
that condition), every condition that joins later is reported at once in an ``update``
with its evidence (the sensor series as JSON), so a camera and a sensor watching the same
site give one case; further updates come at most every ``update_interval_s``. It ends
``cooldown_s`` after the last condition stopped holding. Details carry the site, the
conditions, the measured share and the sensor means with their limits.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

import cv2
import numpy as np

from contracts.events import EventPhase, EvidenceKind, ViolationType
from contracts.sensors import UNITS, SensorSeries, SeriesPoint
from edge.rules.base import CaseTimes, RuleFrame, RuleResources, Subject, ZoneRule
from edge.rules.events import Attachment, JsonAttachment, RuleEvent
from edge.rules.settings import SensorLimit
from edge.sensors.samples import SensorSample
from edge.sensors.window import RollingWindow, is_energy_quantity
from edge.types import Detections, FloatArray
from zones.config import ZoneKind
from zones.geometry import ZoneGeometry
from zones.schedule import in_any_window

logger = logging.getLogger(__name__)

RULE_NAME = "construction_site"
BARE_SOIL = "bare_soil"
DUST_NET = "dust_net"

_UNIT_SUFFIX = {"ug/m3": "ugm3", "dB(A)": "dba"}
_FINE = 4


@dataclass(frozen=True, slots=True)
class ShareMeasure:
    """The bare-soil share of one frame.

    Attributes:
        share: Bare area (under soil boxes, not under net boxes) / zone area, 0..1.
        bare_xyxy: Box around the bare cells in pixels, or ``None`` when there are none.
        confidence: Mean score of the soil boxes that count (0 when none).
    """

    share: float
    bare_xyxy: FloatArray | None
    confidence: float


class ZoneRaster:
    """A zone on a coarse grid, for measuring which share of it boxes cover.

    Args:
        geometry: The zone in pixels.
        cells: Grid cells along the zone's longer side.
    """

    def __init__(self, geometry: ZoneGeometry, cells: int) -> None:
        poly = geometry.polygon_px
        self.x0, self.y0 = float(poly[:, 0].min()), float(poly[:, 1].min())
        w = float(poly[:, 0].max()) - self.x0
        h = float(poly[:, 1].max()) - self.y0
        self.cell = max(w, h, 1.0) / cells
        self.shape = (max(1, math.ceil(h / self.cell)), max(1, math.ceil(w / self.cell)))
        # Drawn 4x finer and averaged, so each cell holds the share of it inside the zone.
        fine = np.zeros((self.shape[0] * _FINE, self.shape[1] * _FINE), dtype=np.float32)
        cv2.fillPoly(fine, [self._grid(poly)], 1.0, lineType=cv2.LINE_8, shift=4)
        for excluded in geometry.exclusions_px:
            cv2.fillPoly(fine, [self._grid(excluded)], 0.0, lineType=cv2.LINE_8, shift=4)
        self.weight: np.ndarray = cv2.resize(
            fine, (self.shape[1], self.shape[0]), interpolation=cv2.INTER_AREA
        )
        """Share of each cell that is zone (0..1)."""
        self.mask = self.weight > 0
        self.area_cells = float(self.weight.sum())

    def _grid(self, points_px: FloatArray | np.ndarray) -> np.ndarray:
        pts = (np.asarray(points_px, dtype=np.float64) - [self.x0, self.y0]) / self.cell
        pts = pts * _FINE - 0.5
        return np.round(pts * 16).astype(np.int32).reshape(-1, 1, 2)

    def cover(self, boxes: FloatArray) -> np.ndarray:
        """Cells whose centre lies in any of ``boxes`` (``(N, 4)`` pixels)."""
        out = np.zeros(self.shape, dtype=bool)
        for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
            c0 = max(0, math.ceil((x1 - self.x0) / self.cell - 0.5))
            c1 = min(self.shape[1] - 1, math.floor((x2 - self.x0) / self.cell - 0.5))
            r0 = max(0, math.ceil((y1 - self.y0) / self.cell - 0.5))
            r1 = min(self.shape[0] - 1, math.floor((y2 - self.y0) / self.cell - 0.5))
            if c1 >= c0 and r1 >= r0:
                out[r0 : r1 + 1, c0 : c1 + 1] = True
        return out

    def measure(self, soil: Detections, nets: Detections) -> ShareMeasure:
        """Share of the zone under ``soil`` boxes and not under ``nets`` boxes."""
        if self.area_cells <= 0 or len(soil) == 0:
            return ShareMeasure(0.0, None, 0.0)
        bare = self.mask & self.cover(soil.xyxy)
        if len(nets):
            bare &= ~self.cover(nets.xyxy)
        area = float(self.weight[bare].sum())
        if area <= 0:
            return ShareMeasure(0.0, None, float(soil.confidence.mean()))
        rows = np.flatnonzero(bare.any(axis=1))
        cols = np.flatnonzero(bare.any(axis=0))
        box = np.array(
            [
                self.x0 + cols[0] * self.cell,
                self.y0 + rows[0] * self.cell,
                self.x0 + (cols[-1] + 1) * self.cell,
                self.y0 + (rows[-1] + 1) * self.cell,
            ],
            dtype=np.float32,
        )
        return ShareMeasure(area / self.area_cells, box, float(soil.confidence.mean()))


@dataclass(slots=True)
class _Condition:
    """One condition of the site (bare soil, or one sensor limit) and its evidence."""

    name: str
    since: datetime | None = None  # holding since
    last_true: datetime | None = None
    value: float = 0.0
    peak: float = 0.0
    reported: bool = False  # already in the current case


class ConstructionSiteRule(ZoneRule):
    """Raises ``construction`` cases for bare soil above a share and sensor means above limits.

    Args:
        zone: A ``construction_site`` zone (``site_id`` joins sensor readings).
        geometry: The zone in pixels of the frames to come.
        camera_id: The camera, copied into every event.
        settings: Timezone and this rule's settings (``settings.construction``).
        resources: Unused (the factory signature).
        id_factory: Makes event ids (uuid4 hex by default).

    Raises:
        ValueError: If the zone is not a ``construction_site`` zone or ``geometry`` is of
            another zone.
    """

    rule_name = RULE_NAME
    violation_type = ViolationType.CONSTRUCTION
    zone_kind = ZoneKind.CONSTRUCTION_SITE
    needs = "a construction_site zone"

    def _setup(self, resources: RuleResources | None) -> None:
        del resources
        self.cfg = self.settings.construction
        self._raster = ZoneRaster(self.geometry, self.cfg.raster_px)
        self._measures_soil = BARE_SOIL in self.zone.objects
        if not self._measures_soil:
            self._log(logging.INFO, "bare_soil is not among the zone's objects; only sensors count")
        self._shares: deque[tuple[datetime, float]] = deque()
        self._soil = _Condition(BARE_SOIL)
        self._soil_measure = ShareMeasure(0.0, None, 0.0)
        self._windows: dict[tuple[str, int], RollingWindow] = {}
        self._limits: list[tuple[int, SensorLimit, _Condition]] = [
            (k, limit, _Condition(limit.quantity.value))
            for k, limit in enumerate(self.cfg.sensor_limits)
        ]
        self._ignored_sites: set[str] = set()
        # the case
        self._case = CaseTimes()
        self._label = BARE_SOIL

    # -- measuring -----------------------------------------------------------------------------

    def measure(self, detections: Detections) -> ShareMeasure:
        """The bare-soil share of one frame's detections (no smoothing)."""
        names = detections.class_name
        ok = detections.confidence >= self.cfg.min_score
        soil = np.array([n == BARE_SOIL for n in names], dtype=bool) & ok
        nets = np.array([n == DUST_NET for n in names], dtype=bool) & ok
        return self._raster.measure(detections[soil], detections[nets])

    def _update_soil(self, frame: RuleFrame) -> None:
        ts = frame.ts
        measure = self.measure(frame.detections)
        self._soil_measure = measure
        self._shares.append((ts, measure.share))
        horizon = ts - timedelta(seconds=self.cfg.smoothing_s)
        while self._shares and self._shares[0][0] < horizon:
            self._shares.popleft()
        smoothed = statistics.median(v for _, v in self._shares)
        soil = self._soil
        soil.value = smoothed
        if smoothed > self.cfg.max_bare_share:
            if soil.since is None:
                soil.since = ts
                soil.peak = smoothed
            soil.peak = max(soil.peak, smoothed)
            if (ts - soil.since).total_seconds() >= self.zone.dwell_s:
                soil.last_true = ts
        else:
            soil.since = None
            soil.peak = 0.0

    def _update_sensors(self, frame: RuleFrame) -> None:
        for sample in frame.readings:
            if sample.site_id != self.zone.site_id:
                if sample.site_id not in self._ignored_sites:
                    self._ignored_sites.add(sample.site_id)
                    self._log(logging.DEBUG, "ignoring samples of site %s", sample.site_id)
                continue
            for k, limit, _ in self._limits:
                if limit.quantity is not sample.quantity:
                    continue
                window = self._windows.get((sample.sensor_id, k))
                if window is None:
                    window = RollingWindow(
                        limit.window_s, energy=is_energy_quantity(limit.quantity)
                    )
                    self._windows[(sample.sensor_id, k)] = window
                window.add(sample)
        for k, limit, cond in self._limits:
            value, end = self._worst(k, limit, frame.ts)
            if value is not None and end is not None and value > limit.limit:
                if cond.since is None:
                    cond.since = end
                    cond.peak = value
                cond.peak = max(cond.peak, value)
                cond.value = value
                cond.last_true = frame.ts
            else:
                cond.since = None
                cond.peak = 0.0
                if value is not None:
                    cond.value = value

    def _worst(
        self, k: int, limit: SensorLimit, now: datetime
    ) -> tuple[float | None, datetime | None]:
        """The highest mean of limit ``k`` over the site's sensors that can be judged now."""
        best: tuple[float | None, datetime | None] = (None, None)
        for (sensor_id, index), window in sorted(self._windows.items()):
            del sensor_id
            end = window.end
            if index != k or end is None:
                continue
            if (now - end).total_seconds() > limit.window_s:
                continue  # silent for a whole window: no longer judged
            if window.span_s() < self.cfg.min_coverage * limit.window_s - 1e-6:
                continue
            if len(window) < self.cfg.min_samples:
                continue
            if limit.hours and not in_any_window(limit.hours, end, self._tz):
                continue
            mean = window.mean()
            if mean is not None and (best[0] is None or mean > best[0]):
                best = (mean, end)
        return best

    # -- the case ------------------------------------------------------------------------------

    def update(self, frame: RuleFrame) -> list[RuleEvent]:
        """Feed one analysed frame (detections and new sensor samples)."""
        ts = frame.ts
        if self._out_of_order(ts):
            return []
        if self._measures_soil:
            self._update_soil(frame)
        if self.zone.site_id is not None:
            self._update_sensors(frame)
        holding = [c for c in self._conditions() if c.last_true == ts]
        if in_any_window(self.zone.legal_hours, ts, self._tz):
            holding = []
        case = self._case
        if not holding:
            if case.event_id is not None and case.cooled_down(ts, self.cfg.cooldown_s):
                return [self._end("no condition holds")]
            return []
        case.last_seen = ts
        new = [c for c in holding if not c.reported]
        for cond in new:
            cond.reported = True
        if case.event_id is None:
            case.open(self._id_factory(), min(c.since or ts for c in holding), ts)
            self._label = holding[0].name
            self._log(logging.INFO, "%s", ", ".join(f"{c.name} = {c.value:.3g}" for c in holding))
            return [self._event(EventPhase.START, ts, holding, new)]
        assert case.first_seen is not None
        case.first_seen = min([case.first_seen, *(c.since or ts for c in new)])
        if case.update_due(ts, self.cfg.update_interval_s, now=bool(new)):
            return [self._event(EventPhase.UPDATE, ts, holding, new)]
        return []

    def close(self, ts: datetime) -> list[RuleEvent]:
        """End the open case, if any (the worker is stopping)."""
        if self._case.event_id is None:
            return []
        return [self._end(f"closed at {ts.isoformat()}")]

    def _conditions(self) -> list[_Condition]:
        return [self._soil, *(cond for _, _, cond in self._limits)]

    def _end(self, why: str) -> RuleEvent:
        assert self._case.last_seen is not None
        self._log(logging.DEBUG, "case ends (%s)", why)
        event = self._event(EventPhase.END, self._case.last_seen, [], [])
        self._case.reset()
        for cond in self._conditions():
            cond.reported = False
        return event

    def _event(
        self,
        phase: EventPhase,
        last_seen: datetime,
        holding: list[_Condition],
        new: list[_Condition],
    ) -> RuleEvent:
        assert self._case.first_seen is not None
        first_seen = min(self._case.first_seen, last_seen)
        details: dict[str, str | float | int] = {
            "conditions": ",".join(c.name for c in holding) or "none",
        }
        if self.zone.site_id is not None:
            details["site_id"] = self.zone.site_id
        if self._measures_soil:
            details["bare_share"] = round(self._soil.value, 4)
            details["max_bare_share"] = self.cfg.max_bare_share
            if self._soil.peak:
                details["bare_share_peak"] = round(self._soil.peak, 4)
        for _, limit, cond in self._limits:
            if cond in holding:
                suffix = _UNIT_SUFFIX.get(UNITS[limit.quantity], "value")
                details[f"{cond.name}_mean_{suffix}"] = round(cond.value, 2)
                details[f"{cond.name}_limit_{suffix}"] = limit.limit
        soil_box = self._soil_measure.bare_xyxy
        if self._soil in holding and soil_box is not None:
            xyxy = soil_box
            confidence = self._soil_measure.confidence
        else:
            poly = self.geometry.polygon_px
            xyxy = np.array(
                [poly[:, 0].min(), poly[:, 1].min(), poly[:, 0].max(), poly[:, 1].max()],
                dtype=np.float32,
            )
            confidence = 1.0 if holding and self._soil not in holding else 0.0
        return self._rule_event(
            self._case.event_id,
            phase,
            first_seen,
            last_seen,
            Subject(self._label, min(max(confidence, 0.0), 1.0), xyxy, -1),
            details,
            tuple(self._evidence(c, last_seen) for c in new),
        )

    def _evidence(self, cond: _Condition, now: datetime) -> Attachment:
        site = self.zone.site_id or self.zone.id
        if cond is self._soil:
            series = SensorSeries(
                site_id=site,
                quantity="bare_soil_share",
                unit="1",
                statistic="median",
                window_s=max(self.cfg.smoothing_s, 1.0),
                limit=self.cfg.max_bare_share,
                value=cond.value,
                window_end=now,
                points=[
                    SeriesPoint(t=t, value=v, sensor_id=self.camera_id) for t, v in self._shares
                ],
            )
            return JsonAttachment(EvidenceKind.SENSOR_SERIES, series, now)
        k, limit = next((k, lim) for k, lim, c in self._limits if c is cond)
        samples: list[SensorSample] = []
        best: float | None = None
        for (_, index), window in sorted(self._windows.items()):
            mean = window.mean()
            if index == k and mean is not None and (best is None or mean > best):
                best, samples = mean, window.samples()
        end = samples[-1].measured_at if samples else now
        series = SensorSeries(
            site_id=site,
            quantity=limit.quantity.value,
            unit=UNITS[limit.quantity],
            statistic="energy_mean" if is_energy_quantity(limit.quantity) else "mean",
            window_s=limit.window_s,
            limit=limit.limit,
            value=cond.value,
            window_end=end,
            points=[
                SeriesPoint(t=s.measured_at, value=s.value, sensor_id=s.sensor_id) for s in samples
            ],
        )
        return JsonAttachment(EvidenceKind.SENSOR_SERIES, series, end)
