"""Config messages for the control tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from contracts.control import EdgeConfigMessage

PAVEMENT: dict[str, Any] = {
    "id": "pavement",
    "name": "Pavement",
    "kind": "no_vending",
    "polygon": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]],
    "objects": ["stall"],
    "dwell_s": 1,
    "inertia": 1,
}
KERB: dict[str, Any] = {
    **PAVEMENT,
    "id": "kerb",
    "name": "Kerb",
    "polygon": [[0.0, 0.0], [0.5, 0.0], [0.5, 0.4]],
}
BOWTIE: dict[str, Any] = {**PAVEMENT, "id": "bowtie", "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]}


def zones_yaml(camera_id: str, *zones: dict[str, Any]) -> str:
    return json.dumps({"camera_id": camera_id, "zones": list(zones)})  # JSON is YAML


def camera(
    camera_id: str,
    url: str,
    *zones: dict[str, Any],
    zone_version: int = 1,
    enabled: bool = True,
    profile: str = "stationary",
    reference_sha256: str | None = None,
) -> dict[str, Any]:
    return {
        "camera_id": camera_id,
        "name": camera_id.upper(),
        "stream_url": url,
        "profile": profile,
        "enabled": enabled,
        "zones_yaml": zones_yaml(camera_id, *zones),
        "zone_version": zone_version,
        "reference_sha256": reference_sha256,
    }


def config_message(edge_id: str, version: int, *cameras: dict[str, Any]) -> EdgeConfigMessage:
    return EdgeConfigMessage.model_validate(
        {
            "edge_id": edge_id,
            "version": version,
            "issued_at": datetime.now(UTC),
            "cameras": list(cameras),
        }
    )
