"""What changes between the cameras that run and the cameras a new config asks for (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from edge.control.validate import CameraSpec


@dataclass(frozen=True, slots=True)
class ConfigPlan:
    """The changes, in the order they are applied.

    Attributes:
        remove: Cameras to stop (gone from the config, or disabled).
        restart: Cameras whose source or rate changed (stopped, then started anew).
        add: Cameras to start.
        rezone: Running cameras that only get new zones (no restart).
        reference: Cameras whose reference snapshot changed.
    """

    remove: list[str] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)
    add: list[str] = field(default_factory=list)
    rezone: list[str] = field(default_factory=list)
    reference: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.remove or self.restart or self.add or self.rezone or self.reference)


def plan_changes(running: Mapping[str, CameraSpec], wanted: Mapping[str, CameraSpec]) -> ConfigPlan:
    """Compare the running cameras with the wanted ones.

    A camera runs when it is in ``running`` (only enabled cameras are); a wanted camera
    that is disabled is removed. Sources and rates are compared without the zone file's
    path (a new zone version is a new file, not a new source).

    Example:
        >>> plan_changes({}, {}).empty
        True
    """
    plan = ConfigPlan()
    for camera_id in running:
        spec = wanted.get(camera_id)
        if spec is None or not spec.config.enabled:
            plan.remove.append(camera_id)
    for camera_id, spec in wanted.items():
        if not spec.config.enabled:
            continue
        current = running.get(camera_id)
        if current is None:
            plan.add.append(camera_id)
            continue
        same_source = current.config.model_copy(update={"zones": spec.config.zones}) == spec.config
        if not same_source:
            plan.restart.append(camera_id)
        elif current.zones != spec.zones:
            plan.rezone.append(camera_id)
        if current.reference_sha256 != spec.reference_sha256 and same_source:
            plan.reference.append(camera_id)
    return plan
