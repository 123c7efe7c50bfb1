"""Per-camera zone definitions (0..1 polygons, schedules), their validation and geometry."""

from zones.config import (
    CameraZones,
    CrossingLine,
    DoorLine,
    ShopRef,
    Zone,
    ZoneFileCheck,
    ZoneFileError,
    ZoneKind,
    check_zone_files,
    load_zone_file,
    validate_zone_files,
)
from zones.objects import KNOWN_OBJECTS
from zones.schedule import DailyWindow

__all__ = [
    "KNOWN_OBJECTS",
    "CameraZones",
    "CrossingLine",
    "DailyWindow",
    "DoorLine",
    "ShopRef",
    "Zone",
    "ZoneFileCheck",
    "ZoneFileError",
    "ZoneKind",
    "check_zone_files",
    "load_zone_file",
    "validate_zone_files",
]
