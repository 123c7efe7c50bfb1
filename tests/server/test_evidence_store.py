"""The content-addressed evidence directory."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from server.evidence_store import EvidenceHashMismatchError, EvidenceStore


def test_write_read_layout(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "ev")
    data = b"evidence bytes"
    digest = hashlib.sha256(data).hexdigest()
    path = store.write(digest, data)
    assert path == tmp_path / "ev" / digest[:2] / digest[2:4] / digest
    assert store.read(digest) == data and store.exists(digest)
    assert store.write(digest, data) == path  # idempotent
    assert [p.name for p in path.parent.iterdir()] == [digest]  # no temp files left


@pytest.mark.parametrize(
    "key", ["", "../../etc/passwd", "A" * 64, "g" * 64, "a" * 63, "a" * 65, "a" * 64 + "/x"]
)
def test_only_a_hash_becomes_a_path(tmp_path: Path, key: str) -> None:
    store = EvidenceStore(tmp_path)
    with pytest.raises(ValueError, match="not a sha256"):
        store.path_for(key)


def test_mismatch_writes_nothing(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "ev")
    with pytest.raises(EvidenceHashMismatchError):
        store.write(hashlib.sha256(b"a").hexdigest(), b"b")
    assert not (tmp_path / "ev").exists()
