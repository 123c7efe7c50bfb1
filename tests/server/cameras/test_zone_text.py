"""Zone text for storage, diffs, and stream URLs without credentials."""

from __future__ import annotations

import pytest

from server.cameras.redact import redact_url
from server.cameras.zone_text import diff_zone_texts, zone_document, zone_yaml

ZONE = {
    "id": "a",
    "name": "摊位",
    "kind": "no_vending",
    "polygon": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.1]],
    "objects": ["stall"],
}


def test_yaml_round_trips_with_points_in_flow_style() -> None:
    text = zone_yaml({"camera_id": "cam", "zones": [ZONE]})
    assert "polygon: [[0.1, 0.2], [0.3, 0.4], [0.5, 0.1]]" in text
    assert "name: 摊位" in text
    assert zone_document(text) == {"camera_id": "cam", "zones": [ZONE]}


def test_diff_of_nothing_to_something_and_of_changes() -> None:
    first = zone_yaml({"camera_id": "cam", "zones": [ZONE]})
    first_diff = diff_zone_texts("", first, old_name="(none)", new_name="v1")
    assert first_diff.added == ("a",)
    assert first_diff.removed == ()
    second = zone_yaml({"camera_id": "cam", "zones": [{**ZONE, "name": "x", "dwell_s": 5.0}]})
    diff = diff_zone_texts(first, second, old_name="v1", new_name="v2")
    assert diff.added == diff.removed == ()
    assert [(c.zone_id, c.fields) for c in diff.changed] == [("a", ("dwell_s", "name"))]
    same = diff_zone_texts(first, first, old_name="v1", new_name="v1")
    assert (same.added, same.removed, same.changed, same.unified) == ((), (), (), "")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:pw@10.0.0.5:554/s1", "rtsp://***@10.0.0.5:554/s1"),
        ("rtsp://admin@cam.local/s1", "rtsp://***@cam.local/s1"),
        ("rtsp://10.0.0.5/s1", "rtsp://10.0.0.5/s1"),
        ("rtsp://u:p@[fe80::1]:554/s", "rtsp://***@[fe80::1]:554/s"),
        ("http://h/v?user=admin&password=pw&ch=1", "http://h/v?user=***&password=***&ch=1"),
        ("rtsp://u:p@h:notaport/s", "***"),
        ("", ""),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
