"""What a new config changes on the running cameras."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.control.config import ControlConfig
from edge.control.plan import ConfigPlan, plan_changes
from edge.control.validate import CameraSpec, validate_config
from tests.edge.control.support import KERB, PAVEMENT, camera, config_message

URL = "rtsp://10.0.0.7/a"


def _specs(tmp_path: Path, *cameras: dict[str, object]) -> dict[str, CameraSpec]:
    message = config_message("e", 1, *cameras)
    return validate_config(
        message.to_json(), edge_id="e", control=ControlConfig(), zones_dir=tmp_path
    ).cameras


def _running(specs: dict[str, CameraSpec]) -> dict[str, CameraSpec]:
    return {c: s for c, s in specs.items() if s.config.enabled}


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ([], [], ConfigPlan()),
        ([], [camera("a", URL, PAVEMENT)], ConfigPlan(add=["a"])),
        ([camera("a", URL, PAVEMENT)], [], ConfigPlan(remove=["a"])),
        ([camera("a", URL, PAVEMENT)], [camera("a", URL, PAVEMENT)], ConfigPlan()),
        (
            [camera("a", URL, PAVEMENT)],
            [camera("a", URL, PAVEMENT, KERB, zone_version=2)],
            ConfigPlan(rezone=["a"]),
        ),
        (
            [camera("a", URL, PAVEMENT)],
            [camera("a", URL + "x", PAVEMENT)],
            ConfigPlan(restart=["a"]),
        ),
        (
            [camera("a", URL, PAVEMENT)],
            [camera("a", URL, PAVEMENT, profile="road")],
            ConfigPlan(restart=["a"]),
        ),
        (
            [camera("a", URL, PAVEMENT)],
            [camera("a", URL, PAVEMENT, enabled=False)],
            ConfigPlan(remove=["a"]),
        ),
        (
            [camera("a", URL, PAVEMENT, enabled=False)],
            [camera("a", URL, PAVEMENT)],
            ConfigPlan(add=["a"]),
        ),
        (
            [camera("a", URL, PAVEMENT)],
            [camera("a", URL, PAVEMENT, reference_sha256="f" * 64)],
            ConfigPlan(reference=["a"]),
        ),
    ],
)
def test_plan(
    before: list[dict[str, object]],
    after: list[dict[str, object]],
    expected: ConfigPlan,
    tmp_path: Path,
) -> None:
    running = _running(_specs(tmp_path, *before))
    assert plan_changes(running, _specs(tmp_path, *after)) == expected


def test_the_same_zones_under_a_new_version_change_nothing_running(tmp_path: Path) -> None:
    running = _running(_specs(tmp_path, camera("a", URL, PAVEMENT, zone_version=1)))
    plan = plan_changes(running, _specs(tmp_path, camera("a", URL, PAVEMENT, zone_version=2)))
    assert plan.empty  # a rollback to equal zones: nothing to swap
