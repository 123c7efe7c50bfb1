"""The shop a cross-door case names (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from server.notices.shop import Shop, shop_from_payloads


def _p(details: Any) -> dict[str, Any]:
    return {"details": details}


@pytest.mark.parametrize(
    ("violation", "payloads", "shop"),
    [
        ("cross_door", [], None),
        ("street_stall", [_p({"shop_id": "S1", "shop_name": "A"})], None),
        ("cross_door", [_p({"shop_id": "S1", "shop_name": "李记"})], Shop("S1", "李记")),
        ("cross_door", [_p({"shop_id": "S1", "shop_name": "A"}), _p({})], Shop("S1", "A")),
        (
            "cross_door",
            [_p({"shop_id": "S1", "shop_name": "A"}), _p({"shop_id": "S2", "shop_name": "B"})],
            Shop("S2", "B"),
        ),
        ("cross_door", [_p({"shop_id": "S1"}), _p("nonsense"), {}], None),
        ("cross_door", [_p({"shop_id": 7, "shop_name": "A"})], None),
    ],
)
def test_shop_from_payloads(
    violation: str, payloads: list[dict[str, Any]], shop: Shop | None
) -> None:
    assert shop_from_payloads(violation, payloads) == shop
