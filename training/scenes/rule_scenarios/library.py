"""The library of scripted rule scenarios: four rules, each with violations and lawful cases.

:func:`build_scenario` builds one by name (:data:`RULE_SCENARIOS`); the package docstring
lists them. Each sets its stage with :mod:`training.scenes.stages` from its own seed (7101
and up, used for nothing else) and derives its zone file from the scene's geometry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from contracts.sensors import Quantity
from edge.rules.settings import RulesSettings
from edge.sensors.samples import SensorSample
from training.scenes.render import Light
from training.scenes.rule_scenarios.projection import (
    one_zone,
    project_area,
    project_point,
    street_side,
    visible_x,
)
from training.scenes.rule_scenarios.scenario import SIZE, ExpectedCase, RuleScenario
from training.scenes.scenery import PAVEMENT_Y, ROAD_Y1, Shop
from training.scenes.stages import (
    STALL_Y,
    GoodsStep,
    TruckPass,
    goods_stage,
    site_stage,
    stall_stage,
    trucks_stage,
)

NOON = datetime(2026, 6, 2, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
EVENING = datetime(2026, 6, 2, 11, 0, tzinfo=UTC)  # 19:00 in Asia/Shanghai
SECONDS = 40.0
"""Length of every scenario."""

DOOR_LINE_Y = 1.4
"""Distance of the scenarios' door line from the facade, metres."""


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, 4042]))


def _settings(**rules: dict[str, object]) -> RulesSettings:
    """Scenario settings: the defaults with short update intervals and cool-downs."""
    base: dict[str, dict[str, object]] = {
        "stall_dwell": {"update_interval_s": 10, "cooldown_s": 20},
        "cross_door": {"update_interval_s": 10, "cooldown_s": 20},
        "muck_truck": {"cooldown_s": 5},
        "construction": {
            "update_interval_s": 10,
            "cooldown_s": 30,
            "smoothing_s": 4,
            "max_bare_share": 0.08,
        },
    }
    for key, value in rules.items():
        base[key] = {**base[key], **value}
    return RulesSettings.model_validate(base)


def _stall(name: str, seed: int, lawful: bool) -> RuleScenario:
    staged = stall_stage(_rng(seed), *SIZE, SECONDS, Light.DAY)
    camera = staged.stage.camera
    lo, hi = visible_x(camera, STALL_Y)
    pavement = project_area(
        camera,
        [(lo - 5, 0.3), (hi + 5, 0.3), (hi + 5, PAVEMENT_Y + 0.4), (lo - 5, PAVEMENT_Y + 0.4)],
    )
    zone = {
        "id": "pavement",
        "name": "Near pavement",
        "kind": "no_vending",
        "polygon": pavement,
        "objects": ["stall", "goods", "person"],
        "dwell_s": 10,
        "inertia": 3,
        "legal_hours": ["06:00-09:00", "18:00-22:00"],
    }
    opens, dwell = staged.t_setup, 10.0
    expected = (
        ()
        if lawful
        else (ExpectedCase("stall_dwell", "pavement", opens + dwell - 1.0, opens + dwell + 4.0),)
    )
    return RuleScenario(
        name=name,
        rule="stall_dwell",
        seed=seed,
        lawful=lawful,
        description="a vendor opens an umbrella stall on the pavement"
        + (" at 19:00, inside legal hours" if lawful else " at noon"),
        stage=staged.stage,
        zones=one_zone(name, zone),
        settings=_settings(),
        clock_start=EVENING if lawful else NOON,
        seconds=SECONDS,
        fps=2.0,
        expected=expected,
    )


def _beyond(shop: Shop, side: float) -> tuple[GoodsStep, ...]:
    """Goods by the door, then two steps beyond the door line."""
    return (
        GoodsStep(0.12, shop.door_x + side * (shop.door_w / 2 + 0.9), 0.3, 1),
        GoodsStep(0.35, shop.door_x, 2.8, 1),
        GoodsStep(0.6, shop.door_x - side * 0.6, 3.1, 1),
    )


def _behind(shop: Shop, side: float) -> tuple[GoodsStep, ...]:
    """Three steps of goods, all against the facade (behind the door line)."""
    return (
        GoodsStep(0.12, shop.door_x + side * (shop.door_w / 2 + 0.9), 0.3, 1),
        GoodsStep(0.35, shop.door_x - side * (shop.door_w / 2 + 0.9), 0.3, 1),
        GoodsStep(0.6, shop.door_x + side * (shop.door_w / 2 + 2.2), 0.3, 0),
    )


def _goods(name: str, seed: int, beyond: bool) -> RuleScenario:
    staged = goods_stage(_rng(seed), *SIZE, SECONDS, Light.DAY, _beyond if beyond else _behind)
    camera, shop = staged.stage.camera, staged.shop
    frontage = project_area(
        camera,
        [
            (shop.x0, 0.05),
            (shop.x1, 0.05),
            (shop.x1, PAVEMENT_Y - 0.2),
            (shop.x0, PAVEMENT_Y - 0.2),
        ],
    )
    a = project_point(camera, shop.x0 + 0.3, DOOR_LINE_Y)
    b = project_point(camera, shop.x1 - 0.3, DOOR_LINE_Y)
    street = project_point(camera, (shop.x0 + shop.x1) / 2, DOOR_LINE_Y + 1.5)
    zone = {
        "id": "frontage",
        "name": "Shop frontage",
        "kind": "shop_frontage",
        "polygon": frontage,
        "objects": ["goods", "stall"],
        "dwell_s": 8,
        "inertia": 3,
        "shop": {"id": "SH-0042", "name": "Corner Grocery"},
        "door_line": {"points": [a, b], "street_side": street_side(SIZE, a, b, street)},
        "business_hours": ["08:00-22:00"],
    }
    out = staged.times[1]
    expected = (
        (ExpectedCase("cross_door", "frontage", out + 8.0 - 1.0, out + 8.0 + 4.0),)
        if beyond
        else ()
    )
    return RuleScenario(
        name=name,
        rule="cross_door",
        seed=seed,
        lawful=not beyond,
        description="goods come out of a shop in three steps"
        + (", two of them beyond the door line" if beyond else ", all behind the door line"),
        stage=staged.stage,
        zones=one_zone(name, zone),
        settings=_settings(),
        clock_start=NOON,
        seconds=SECONDS,
        fps=2.0,
        expected=expected,
    )


def _trucks(name: str, seed: int, covers: tuple[bool, bool]) -> RuleScenario:
    trucks = (TruckPass("truck-1", covers[0]), TruckPass("truck-2", covers[1]))
    staged = trucks_stage(_rng(seed), *SIZE, SECONDS, Light.DAY, trucks, max_speed_ms=10.0)
    camera = staged.stage.camera
    lo, hi = visible_x(camera, (PAVEMENT_Y + ROAD_Y1) / 2)
    near, far = PAVEMENT_Y - 0.6, ROAD_Y1 + 0.6
    road = project_area(camera, [(lo - 10, near), (hi + 10, near), (hi + 10, far), (lo - 10, far)])
    zone = {
        "id": "road",
        "name": "Carriageway",
        "kind": "road",
        "polygon": road,
        "objects": ["truck"],
        "min_box_wh": [0.05, 0.05],
        "dwell_s": 0,
        "inertia": 2,
    }
    expected = tuple(
        ExpectedCase("muck_truck", "road", t0, t1)
        for covered, (t0, t1) in zip(covers, staged.windows, strict=True)
        if not covered
    )
    return RuleScenario(
        name=name,
        rule="muck_truck",
        seed=seed,
        lawful=all(covers),
        description="two trucks pass: "
        + ", then ".join("covered" if c else "open" for c in covers),
        stage=staged.stage,
        zones=one_zone(name, zone),
        settings=_settings(),
        clock_start=NOON,
        seconds=SECONDS,
        fps=4.0,
        expected=expected,
    )


def _pm10_series(
    seconds: float, before: float, during: float, *, rise_at_s: float | None = None
) -> tuple[tuple[float, SensorSample], ...]:
    """PM10 readings of site-7: one a minute for the 14 minutes before the clip at ``before``,
    then one every 5 s at ``during`` (from ``rise_at_s`` on; ``before`` until then)."""
    out: list[tuple[float, SensorSample]] = []
    for minute in range(-14, 0):
        out.append(
            (
                0.0,
                SensorSample(
                    "site-7", "dust-1", Quantity.PM10, before, NOON + timedelta(minutes=minute)
                ),
            )
        )
    t = 0.0
    while t <= seconds:
        value = during if rise_at_s is None or t >= rise_at_s else before
        out.append(
            (t, SensorSample("site-7", "dust-1", Quantity.PM10, value, NOON + timedelta(seconds=t)))
        )
        t += 5.0
    return tuple(out)


_SENSOR_STORY = {
    "over": "; PM10 15-min mean 210 ug/m3",
    "under": "; PM10 15-min mean 90 ug/m3",
    "rise": "; then PM10 rises above its limit",
}


def _site(name: str, seed: int, *, pull: bool, sensor: str | None) -> RuleScenario:
    site = site_stage(_rng(seed), *SIZE, SECONDS, Light.DAY, pull=pull, worker=False)
    hx, hy = site.heap_xy
    area = project_area(
        site.stage.camera,
        [(hx - 9, hy - 7), (hx + 9, hy - 7), (hx + 9, hy + 9), (hx - 9, hy + 9)],
    )
    zone = {
        "id": "site",
        "name": "Construction site",
        "kind": "construction_site",
        "polygon": area,
        "objects": ["bare_soil", "dust_net"],
        "dwell_s": 8,
        "inertia": 1,
        "site_id": "site-7",
    }
    readings: tuple[tuple[float, SensorSample], ...] = ()
    expected: list[ExpectedCase] = []
    soil_from = site.t_pull + site.pull_s * 0.5
    soil_window = (soil_from + 8.0 - 2.0, site.t_pull + site.pull_s + 8.0 + 4.0)
    if pull:
        expected.append(ExpectedCase("construction_site", "site", *soil_window, ("bare_soil",)))
    if sensor == "over":
        readings = _pm10_series(SECONDS, 210.0, 210.0)
        expected = [ExpectedCase("construction_site", "site", 0.0, 1.0, ("pm10",))]
    elif sensor == "under":
        readings = _pm10_series(SECONDS, 90.0, 90.0)
    elif sensor == "rise":
        # 14 readings of 130 before the clip and 7 in it, then 400 from 30 s: the 15-minute
        # mean passes 150 with the second high reading (35 s), after the soil case started
        readings = _pm10_series(SECONDS, 130.0, 400.0, rise_at_s=30.0)
        expected = [ExpectedCase("construction_site", "site", *soil_window, ("bare_soil", "pm10"))]
    what = "the dust net is pulled off a soil heap" if pull else "the soil heap stays netted"
    return RuleScenario(
        name=name,
        rule="construction_site",
        seed=seed,
        lawful=not expected,
        description=what + _SENSOR_STORY.get(sensor or "", ""),
        stage=site.stage,
        zones=one_zone(name, zone),
        settings=_settings(),
        clock_start=NOON,
        seconds=SECONDS,
        fps=2.0,
        expected=tuple(expected),
        readings=readings,
    )


_BUILDERS: dict[str, Callable[[], RuleScenario]] = {
    "stall_illegal": lambda: _stall("stall_illegal", 7101, lawful=False),
    "stall_legal_hours": lambda: _stall("stall_legal_hours", 7102, lawful=True),
    "goods_beyond_line": lambda: _goods("goods_beyond_line", 7111, beyond=True),
    "goods_behind_line": lambda: _goods("goods_behind_line", 7112, beyond=False),
    "truck_open": lambda: _trucks("truck_open", 7121, (True, False)),
    "truck_covered": lambda: _trucks("truck_covered", 7122, (True, True)),
    "truck_open_first": lambda: _trucks("truck_open_first", 7123, (False, True)),
    "trucks_both_open": lambda: _trucks("trucks_both_open", 7124, (False, False)),
    "site_net_removed": lambda: _site("site_net_removed", 7131, pull=True, sensor=None),
    "site_netted": lambda: _site("site_netted", 7132, pull=False, sensor=None),
    "dust_over_limit": lambda: _site("dust_over_limit", 7133, pull=False, sensor="over"),
    "dust_under_limit": lambda: _site("dust_under_limit", 7134, pull=False, sensor="under"),
    "site_and_dust": lambda: _site("site_and_dust", 7135, pull=True, sensor="rise"),
}

RULE_SCENARIOS: tuple[str, ...] = tuple(_BUILDERS)
"""Names accepted by :func:`build_scenario`."""


def build_scenario(name: str) -> RuleScenario:
    """The scenario called ``name`` (one of :data:`RULE_SCENARIOS`).

    Raises:
        ValueError: For an unknown name.
    """
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}; choose from {', '.join(RULE_SCENARIOS)}"
        ) from None
    return builder()
