"""The shop a cross-door case names, read from its event messages (pure).

The edge's cross-door rule puts ``shop_id`` and ``shop_name`` in every message's
``details`` (:mod:`edge.rules.crossdoor`); the newest message that carries both wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.events import ViolationType


@dataclass(frozen=True, slots=True)
class Shop:
    """A shop named by a case: its id in the city's register and its name."""

    id: str
    name: str


def shop_from_payloads(violation_type: str, payloads: Iterable[Mapping[str, Any]]) -> Shop | None:
    """The shop named by the last of ``payloads`` (oldest first) of a cross-door case.

    Returns:
        ``None`` when the case is not a cross-door case or no message names a shop.
    """
    if violation_type != ViolationType.CROSS_DOOR.value:
        return None
    found: Shop | None = None
    for payload in payloads:
        details = payload.get("details")
        if not isinstance(details, Mapping):
            continue
        shop_id, shop_name = details.get("shop_id"), details.get("shop_name")
        if isinstance(shop_id, str) and isinstance(shop_name, str) and shop_id and shop_name:
            found = Shop(id=shop_id, name=shop_name)
    return found
