"""The S3 evidence store against a real SeaweedFS started here (never a mock)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from contracts.events import EvidenceKind
from server.core.config import SettingsError, load_settings
from server.core.s3_settings import S3Credentials, S3Settings
from server.evidence_store import (
    EvidenceBackendError,
    EvidenceCorruptError,
    EvidenceHashMismatchError,
    EvidenceMissingError,
    open_evidence_store,
)
from server.ingest import IngestContext, IngestMetrics, dispatch
from tests.server import builders as b
from tests.server.conftest import NOW
from tests.support.seaweedfs import ACCESS_KEY, SECRET_KEY, SeaweedProcess, start_seaweedfs

pytest.importorskip("boto3", reason="the s3 extra (boto3) is not installed")

from server.evidence_s3 import S3EvidenceStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from sqlalchemy.orm import Session, sessionmaker

pytestmark = pytest.mark.integration

CREDENTIALS = S3Credentials(access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedProcess]:
    try:
        server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    except FileNotFoundError as exc:
        pytest.skip(f"no S3-compatible server: {exc}")
    yield server
    server.stop()


def _settings(seaweed: SeaweedProcess, bucket: str) -> S3Settings:
    return S3Settings(endpoint_url=seaweed.endpoint_url, bucket=bucket, prefix="ev/site-1")


@pytest.fixture
def store(seaweed: SeaweedProcess) -> S3EvidenceStore:
    """A store on a fresh bucket of its own."""
    bucket = f"cw-{uuid.uuid4().hex[:12]}"
    store = S3EvidenceStore.from_settings(_settings(seaweed, bucket), CREDENTIALS)
    raw(store).create_bucket(Bucket=bucket)
    store.prepare()
    return store


def raw(store: S3EvidenceStore) -> S3Client:
    """The store's own client, to tamper with objects behind its back."""
    return store._client


def test_round_trip_and_key_layout(store: S3EvidenceStore) -> None:
    data = b.jpeg(1)
    digest = hashlib.sha256(data).hexdigest()
    assert not store.exists(digest)
    assert store.write(digest, data) == f"s3://{store.bucket}/ev/site-1/{digest[:2]}/{digest}"
    assert store.exists(digest) and store.read(digest) == data
    keys = [o["Key"] for o in raw(store).list_objects_v2(Bucket=store.bucket)["Contents"]]
    assert keys == [f"ev/site-1/{digest[:2]}/{digest}"]


def test_rewrite_is_idempotent(store: S3EvidenceStore) -> None:
    data = b"the same bytes twice"
    digest = hashlib.sha256(data).hexdigest()
    store.write(digest, data)
    key = store.key_for(digest)
    first = raw(store).head_object(Bucket=store.bucket, Key=key)
    store.write(digest, data)
    again = raw(store).head_object(Bucket=store.bucket, Key=key)
    assert again["LastModified"] == first["LastModified"] and again["ETag"] == first["ETag"]


def test_hash_checked_on_write_nothing_stored(store: S3EvidenceStore) -> None:
    digest = hashlib.sha256(b"claimed").hexdigest()
    with pytest.raises(EvidenceHashMismatchError):
        store.write(digest, b"actual")
    assert raw(store).list_objects_v2(Bucket=store.bucket)["KeyCount"] == 0
    with pytest.raises(ValueError, match="not a sha256"):
        store.write("../../etc/passwd", b"x")


def test_corrupt_object_detected_on_read(store: S3EvidenceStore) -> None:
    data = b"evidence that will be damaged"
    digest = hashlib.sha256(data).hexdigest()
    store.write(digest, data)
    raw(store).put_object(Bucket=store.bucket, Key=store.key_for(digest), Body=data[:-1] + b"!")
    with pytest.raises(EvidenceCorruptError, match=f"hashes to .*, expected {digest}"):
        store.read(digest)


def test_missing_object_and_delete(store: S3EvidenceStore) -> None:
    digest = hashlib.sha256(b"never sent").hexdigest()
    with pytest.raises(EvidenceMissingError, match="is missing"):
        store.read(digest)
    data = b"to be deleted"
    digest = hashlib.sha256(data).hexdigest()
    store.write(digest, data)
    store.delete(digest)
    store.delete(digest)  # absent: no error
    assert not store.exists(digest)


def test_missing_bucket_is_a_clear_error(seaweed: SeaweedProcess) -> None:
    store = S3EvidenceStore.from_settings(_settings(seaweed, "no-such-bucket"), CREDENTIALS)
    with pytest.raises(EvidenceBackendError, match="bucket 'no-such-bucket' does not exist"):
        store.prepare()


def test_wrong_credentials_are_a_clear_error(store: S3EvidenceStore) -> None:
    wrong = S3Credentials(access_key_id=ACCESS_KEY, secret_access_key="not-the-secret")
    intruder = S3EvidenceStore.from_settings(store.settings, wrong)
    with pytest.raises(EvidenceBackendError, match="refused the credentials") as caught:
        intruder.prepare()
    assert "not-the-secret" not in str(caught.value)
    data = b"x"
    with pytest.raises(EvidenceBackendError, match="refused the credentials"):
        intruder.write(hashlib.sha256(data).hexdigest(), data)


def test_settings_choose_s3_with_keys_from_the_environment(
    store: S3EvidenceStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "server.yaml"
    s3 = store.settings
    config.write_text(
        f"evidence_backend: s3\ns3:\n  endpoint_url: {s3.endpoint_url}\n  bucket: {s3.bucket}\n"
    )
    monkeypatch.delenv("CIVICWATCH_S3_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("CIVICWATCH_S3_SECRET_ACCESS_KEY", raising=False)
    with pytest.raises(EvidenceBackendError, match="CIVICWATCH_S3_ACCESS_KEY_ID"):
        open_evidence_store(load_settings(config))
    monkeypatch.setenv("CIVICWATCH_S3_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("CIVICWATCH_S3_SECRET_ACCESS_KEY", SECRET_KEY)
    opened = open_evidence_store(load_settings(config))
    assert isinstance(opened, S3EvidenceStore)
    opened.prepare()
    secret_in_file = tmp_path / "secret.yaml"
    secret_in_file.write_text("evidence_backend: s3\ns3:\n  secret_key: hunter2\n")
    with pytest.raises(SettingsError, match="only come from the environment") as caught:
        load_settings(secret_in_file)
    assert "hunter2" not in str(caught.value)


def test_ingest_stores_evidence_in_the_bucket(
    store: S3EvidenceStore, session_factory: sessionmaker[Session]
) -> None:
    """An evidence message through the real ingest handler lands in the bucket, checked."""
    item = b.item(b.jpeg(7), EvidenceKind.FRAME)
    metrics = IngestMetrics()
    for _ in range(2):  # the second delivery is a duplicate, not a second object
        outcome = dispatch(
            session_factory,
            b.evidence_topic(item),
            item.data,
            b.props("image/jpeg"),
            context=IngestContext(store=store, limits=b.UNCHAINED),
            metrics=metrics,
            now=NOW,
        )
        assert outcome.accepted, outcome
    assert metrics.snapshot().accepted == {"evidence": 1, "evidence_duplicate": 1}
    assert store.read(item.sha256) == item.data
    assert raw(store).list_objects_v2(Bucket=store.bucket)["KeyCount"] == 1
