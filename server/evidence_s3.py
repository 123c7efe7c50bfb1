"""Evidence in an S3-compatible object store: ``<prefix>/<sha256[:2]>/<sha256>``.

The same contract as the directory store (:class:`server.evidence_store.EvidenceBackend`):
the hash of the bytes is checked before an upload (the caller is never trusted) and after
every download; an object that already exists is not uploaded again (content addressed:
the same key always means the same bytes). An upload sends its SHA-256 checksum, so a
store that supports checksums refuses bytes damaged on the way.

Needs boto3 (the ``s3`` extra); imported only when the ``s3`` backend is chosen. Errors
name the endpoint and bucket and say what to fix: a missing bucket, refused credentials,
an unreachable endpoint, a corrupt object.

Example:
    >>> store = S3EvidenceStore.from_settings(settings.s3)  # doctest: +SKIP
    >>> store.prepare()  # the bucket exists and the credentials work  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from server.core.s3_settings import S3Credentials, S3Settings
from server.evidence_store import (
    EvidenceBackendError,
    EvidenceHashMismatchError,
    EvidenceMissingError,
    check_sha256,
    corrupt,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

_MISSING_KEY: Final[frozenset[str]] = frozenset({"404", "NoSuchKey", "NotFound"})
_MISSING_BUCKET: Final[frozenset[str]] = frozenset({"NoSuchBucket"})
_REFUSED: Final[frozenset[str]] = frozenset(
    {
        "403",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
    }
)


class S3EvidenceStore:
    """Content-addressed evidence objects in one bucket (an ``EvidenceBackend``).

    Args:
        client: A boto3 S3 client.
        settings: Bucket, prefix and endpoint (the endpoint only for messages here).
    """

    def __init__(self, client: S3Client, settings: S3Settings) -> None:
        self._client = client
        self.settings = settings
        self.bucket = settings.bucket
        self._prefix = f"{settings.prefix}/" if settings.prefix else ""

    @classmethod
    def from_settings(
        cls, settings: S3Settings, credentials: S3Credentials | None = None
    ) -> S3EvidenceStore:
        """A store with a boto3 client for ``settings``; credentials from the environment.

        Raises:
            EvidenceBackendError: The credentials are not (or half) set.
        """
        try:
            creds = credentials if credentials is not None else settings.credentials()
        except ValueError as exc:
            raise EvidenceBackendError(str(exc)) from exc
        if creds is None:
            raise EvidenceBackendError(
                f"evidence_backend s3 needs credentials: set {settings.access_key_env} and "
                f"{settings.secret_key_env}"
            )
        client = boto3.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            config=Config(
                connect_timeout=settings.timeout_s,
                read_timeout=settings.timeout_s,
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": "path"},
            ),
        )
        return cls(client, settings)

    @property
    def location(self) -> str:
        """``s3://bucket/prefix at endpoint``, for messages."""
        endpoint = self.settings.endpoint_url or f"AWS {self.settings.region}"
        return f"s3://{self.bucket}/{self._prefix} at {endpoint}"

    def key_for(self, sha256: str) -> str:
        """The object key of ``sha256``; raises ``ValueError`` for a malformed hash."""
        check_sha256(sha256)
        return f"{self._prefix}{sha256[:2]}/{sha256}"

    def where(self, sha256: str) -> str:
        return f"s3://{self.bucket}/{self.key_for(sha256)}"

    def _error(self, exc: ClientError | BotoCoreError, doing: str) -> EvidenceBackendError:
        """A clear error for a failed request (never the secret)."""
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING_BUCKET:
                return EvidenceBackendError(
                    f"{doing}: bucket {self.bucket!r} does not exist at {self.location}; "
                    "create it (the server does not)"
                )
            if code in _REFUSED:
                return EvidenceBackendError(
                    f"{doing}: {self.location} refused the credentials ({code}); check "
                    f"{self.settings.access_key_env} / {self.settings.secret_key_env} and the "
                    "key's permissions on the bucket"
                )
            return EvidenceBackendError(f"{doing}: {self.location} answered {code}: {exc}")
        return EvidenceBackendError(f"{doing}: {self.location} unusable: {exc}")

    def prepare(self) -> None:
        """Check that the bucket exists and the credentials may use it."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                raise EvidenceBackendError(
                    f"bucket {self.bucket!r} does not exist at {self.location}; create it "
                    "(the server does not)"
                ) from exc
            raise self._error(exc, "checking the evidence bucket") from exc
        except BotoCoreError as exc:
            raise self._error(exc, "checking the evidence bucket") from exc
        logger.info("evidence in %s", self.location)

    def exists(self, sha256: str) -> bool:
        key = self.key_for(sha256)
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _MISSING_KEY:
                return False
            raise self._error(exc, f"looking for {key}") from exc
        except BotoCoreError as exc:
            raise self._error(exc, f"looking for {key}") from exc
        return True

    def write(self, sha256: str, data: bytes) -> str:
        """Upload ``data`` under its hash unless already stored; returns the object URL.

        Raises:
            ValueError: ``sha256`` is malformed.
            EvidenceHashMismatchError: ``data`` does not hash to ``sha256``.
            EvidenceBackendError: The store refused or could not be reached.
        """
        key = self.key_for(sha256)
        digest = hashlib.sha256(data)
        if digest.hexdigest() != sha256:
            raise EvidenceHashMismatchError(f"payload hashes to {digest.hexdigest()}, not {sha256}")
        if self.exists(sha256):
            return self.where(sha256)
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentLength=len(data),
                ChecksumSHA256=base64.b64encode(digest.digest()).decode("ascii"),
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, f"storing {key}") from exc
        return self.where(sha256)

    def read(self, sha256: str) -> bytes:
        """The object's bytes, checked against the hash.

        Raises:
            EvidenceMissingError: No such object.
            EvidenceCorruptError: Its bytes hash to something else.
            EvidenceBackendError: The store refused or could not be reached.
        """
        key = self.key_for(sha256)
        try:
            data = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _MISSING_KEY:
                raise EvidenceMissingError(
                    f"evidence object {self.where(sha256)} is missing"
                ) from exc
            raise self._error(exc, f"reading {key}") from exc
        except BotoCoreError as exc:
            raise self._error(exc, f"reading {key}") from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise corrupt(self.where(sha256), actual, sha256)
        return data

    def delete(self, sha256: str) -> None:
        key = self.key_for(sha256)
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, f"deleting {key}") from exc
