"""The applied config on disk: written whole, zone files beside it, old ones cleared."""

from __future__ import annotations

import stat
from pathlib import Path

from contracts.control import EdgeConfigMessage
from edge.control.store import ConfigStore
from tests.edge.control.support import KERB, PAVEMENT, camera, config_message

URL = "rtsp://u:p@10.0.0.7/a"


def test_save_and_load(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "control")
    assert store.load_payload() is None
    first = config_message("e", 1, camera("a", URL, PAVEMENT))
    store.save(first)
    second = config_message("e", 2, camera("a", URL, PAVEMENT, KERB, zone_version=2))
    store.save(second)
    payload = store.load_payload()
    assert payload is not None and EdgeConfigMessage.from_json(payload) == second
    assert sorted(p.name for p in store.zones_dir.iterdir()) == ["a.v2.yaml"]
    assert stat.S_IMODE(store.state_dir.stat().st_mode) == 0o700  # camera passwords inside
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert not list(store.state_dir.glob(".*partial"))
