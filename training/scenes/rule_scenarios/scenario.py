"""What a rule scenario is: its stage, zone file, settings, clock, sensors and expected cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge.rules.settings import RulesSettings
from edge.sensors.samples import SensorSample
from training.scenes.staging import Stage
from zones.config import CameraZones

SIZE = (800, 450)
"""Frame size of every scenario, pixels."""


@dataclass(frozen=True, slots=True)
class ExpectedCase:
    """A case a scenario must raise: its rule and zone, and when it must start.

    Attributes:
        rule: The rule (``stall_dwell``, ``cross_door``, ``muck_truck``,
            ``construction_site``).
        zone_id: The zone.
        start_after_s: Earliest scenario time its ``start`` may come.
        start_before_s: Latest scenario time its ``start`` must have come by.
        conditions: For construction cases, the conditions it must carry by its end.
    """

    rule: str
    zone_id: str
    start_after_s: float
    start_before_s: float
    conditions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleScenario:
    """A scripted scenario, its zones, settings, clock, sensors and expected cases.

    Attributes:
        name: Scenario name.
        rule: The rule it exercises.
        seed: Its seed (used for nothing else).
        lawful: Whether nothing must be raised.
        description: One line.
        stage: Camera, light, street and actors.
        zones: The camera's zone file content.
        settings: The rule settings it is judged with.
        clock_start: Wall-clock time of scenario time 0 (UTC).
        seconds: Length.
        fps: Analysed frames per second.
        expected: The cases it must raise.
        readings: ``(scenario time, sample)``: sensor samples, delivered with the first frame
            at or after their time.
    """

    name: str
    rule: str
    seed: int
    lawful: bool
    description: str
    stage: Stage
    zones: CameraZones
    settings: RulesSettings
    clock_start: datetime
    seconds: float
    fps: float
    expected: tuple[ExpectedCase, ...]
    readings: tuple[tuple[float, SensorSample], ...] = ()

    @property
    def camera_id(self) -> str:
        """The scenario's camera id."""
        return self.zones.camera_id
