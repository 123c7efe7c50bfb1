"""Per-camera zone definitions (0..1 polygons, schedules) and their validation."""
