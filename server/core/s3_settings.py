"""The ``s3:`` settings block: where evidence goes when ``evidence_backend`` is ``s3``.

Like the broker login, the access key and secret come from the environment only
(``CIVICWATCH_S3_ACCESS_KEY_ID`` / ``CIVICWATCH_S3_SECRET_ACCESS_KEY`` unless
``access_key_env`` / ``secret_key_env`` name others); a config file that names them is refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.mqtt import ENV_NAME_PATTERN

_SECRET_KEYS: Final[dict[str, str]] = {
    "access_key": "access_key_env",
    "access_key_id": "access_key_env",
    "secret_key": "secret_key_env",
    "secret_access_key": "secret_key_env",
}


@dataclass(frozen=True, slots=True)
class S3Credentials:
    """An access key pair; the secret never appears in ``repr``."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


class S3Settings(BaseModel):
    """An S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph RGW) for evidence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = Field(
        default=None,
        max_length=1024,
        pattern=r"^https?://[^\s/]+(/.*)?$",
        description="http(s)://HOST:PORT of the store; null: AWS S3 of region.",
    )
    bucket: str = Field(
        default="civicwatch-evidence",
        min_length=3,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="Bucket that holds the evidence; it must exist (the server does not "
        "create it).",
    )
    prefix: str = Field(
        default="evidence",
        max_length=256,
        pattern=r"^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$",
        description="Key prefix; objects are <prefix>/<sha256[:2]>/<sha256>.",
    )
    region: str = Field(
        default="us-east-1", min_length=1, max_length=64, description="Region name to sign for."
    )
    access_key_env: str = Field(
        default="CIVICWATCH_S3_ACCESS_KEY_ID",
        pattern=ENV_NAME_PATTERN,
        description="Environment variable holding the access key id.",
    )
    secret_key_env: str = Field(
        default="CIVICWATCH_S3_SECRET_ACCESS_KEY",
        pattern=ENV_NAME_PATTERN,
        description="Environment variable holding the secret access key.",
    )
    timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="Connect and read timeout per request, seconds."
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_secrets(cls, data: Any) -> Any:
        """Refuse a key given as a value, without echoing it."""
        if isinstance(data, Mapping):
            for key, env_field in _SECRET_KEYS.items():
                if key in data:
                    default = cls.model_fields[env_field].default
                    raise ValueError(
                        f"{key} may only come from the environment: set the variable named "
                        f"by {env_field} ({default} unless changed)"
                    )
        return data

    def credentials(self, environ: Mapping[str, str] | None = None) -> S3Credentials | None:
        """The key pair from the environment; ``None`` when neither variable is set.

        Raises:
            ValueError: Only one of the two is set.
        """
        env = os.environ if environ is None else environ
        key_id, secret = env.get(self.access_key_env), env.get(self.secret_key_env)
        if not key_id and not secret:
            return None
        if not key_id or not secret:
            missing = self.access_key_env if not key_id else self.secret_key_env
            raise ValueError(f"S3 credentials are incomplete: {missing} is not set")
        return S3Credentials(access_key_id=key_id, secret_access_key=secret)
