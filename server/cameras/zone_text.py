"""Zone files as the editor sends them (JSON) and as they are stored (YAML text), and diffs.

The editor sends a zone file as a JSON document; it is stored as the YAML text an operator
would write by hand (points in flow style, keys in the schema's order), so a version reads
like a file under ``configs/zones/`` and validates with exactly ``civicwatch zones validate``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import yaml


class _ZoneDumper(yaml.SafeDumper):
    """Flow style for lists of numbers and of points: ``[[0.1, 0.2], [0.3, 0.4]]``."""


def _is_flat(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(_is_flat(v) or isinstance(v, str) for v in data) or all(
        isinstance(v, list) and all(_is_flat(x) or isinstance(x, list) for x in v) for v in data
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow and bool(data))


_ZoneDumper.add_representer(list, _represent_list)


def zone_yaml(document: dict[str, Any]) -> str:
    """The YAML text of a zone-file document (a mapping with ``camera_id`` and ``zones``).

    Example:
        >>> print(zone_yaml({"camera_id": "cam1", "zones": []}), end="")
        camera_id: cam1
        zones: []
    """
    return yaml.dump(document, Dumper=_ZoneDumper, sort_keys=False, allow_unicode=True, width=100)


def zone_document(text: str) -> dict[str, Any]:
    """The document a stored (valid) zone file holds, for the editor.

    Raises:
        ValueError: The text is not a YAML mapping.
    """
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("a zone file is a mapping with camera_id and zones")
    return data


@dataclass(frozen=True, slots=True)
class ZoneChange:
    """A zone present in both versions whose fields differ.

    Attributes:
        zone_id: The zone.
        fields: The keys whose values differ (added, removed or changed), sorted.
    """

    zone_id: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ZoneDiff:
    """What changed between two zone files.

    Attributes:
        added: Ids of zones only the new file has.
        removed: Ids of zones only the old file has.
        changed: Zones in both whose fields differ.
        unified: A unified text diff of the two YAML texts.
    """

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[ZoneChange, ...]
    unified: str


def _zones_by_id(text: str) -> dict[str, dict[str, Any]]:
    zones = zone_document(text).get("zones") or []
    return {str(z["id"]): z for z in zones if isinstance(z, dict) and "id" in z}


def diff_zone_texts(old: str, new: str, *, old_name: str, new_name: str) -> ZoneDiff:
    """Compare two valid zone files: zones added, removed and changed, and the text diff.

    Args:
        old: The earlier file's YAML ("" when there is none).
        new: The later file's YAML.
        old_name: Label of the earlier file in the text diff (``v3``).
        new_name: Label of the later file.
    """
    before = _zones_by_id(old) if old else {}
    after = _zones_by_id(new)
    changed = []
    for zone_id in after:
        if zone_id in before and before[zone_id] != after[zone_id]:
            keys = set(before[zone_id]) | set(after[zone_id])
            fields = sorted(k for k in keys if before[zone_id].get(k) != after[zone_id].get(k))
            changed.append(ZoneChange(zone_id=zone_id, fields=tuple(fields)))
    unified = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=old_name,
            tofile=new_name,
        )
    )
    return ZoneDiff(
        added=tuple(z for z in after if z not in before),
        removed=tuple(z for z in before if z not in after),
        changed=tuple(changed),
        unified=unified,
    )
