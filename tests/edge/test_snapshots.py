"""Snapshots: scaled and compressed within bounds, kept by hash, refused when too large."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.snapshots import SnapshotStore, encode_snapshot


def _image(width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return np.asarray(cv2.resize(small, (width, height)), dtype=np.uint8)


@pytest.mark.parametrize(
    ("size_wh", "expected_wh"),
    [((1920, 1080), (1280, 720)), ((1280, 720), (1280, 720)), ((640, 480), (640, 480))],
)
def test_scaled_to_the_width_limit(size_wh: tuple[int, int], expected_wh: tuple[int, int]) -> None:
    snapshot = encode_snapshot(_image(*size_wh), max_width=1280, quality=80)
    decoded = cv2.imdecode(np.frombuffer(snapshot.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape[1::-1] == expected_wh == (snapshot.width, snapshot.height)
    assert snapshot.sha256 == hashlib.sha256(snapshot.jpeg).hexdigest()
    assert len(snapshot.jpeg) < 600_000


def test_store_keeps_the_newest_and_the_pinned_and_checks_hashes(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, keep=2)
    shots = [
        encode_snapshot(np.full((90, 160, 3), v, np.uint8), max_width=1280, quality=80)
        for v in (10, 60, 120, 240)
    ]
    store.put(shots[0])
    store.pin({shots[0].sha256})  # a running camera's reference
    for shot in shots[1:]:
        store.put(shot)
    assert store.image(shots[0].sha256) is not None  # pinned: kept
    assert store.image(shots[1].sha256) is None  # pruned
    image = store.image(shots[3].sha256)
    assert image is not None and image.shape == (90, 160, 3)
    store.path(shots[2].sha256).write_bytes(b"changed")
    assert store.image(shots[2].sha256) is None  # no longer the bytes it was kept as
