"""The signature and the receiver's check (pure)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from server.webhooks.signing import sign, verify

SECRET = "whsec_test"
BODY = '{"kind":"created","case":{"unit":"黄浦区"}}'.encode()
TS = 1_714_550_400


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(secret=SECRET, timestamp=TS, body=BODY) == f"sha256={expected}"


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "signature", "now", "ok"),
    [
        (SECRET, str(TS), BODY, None, TS + 10, True),
        (SECRET, str(TS), BODY, None, TS - 299, True),  # receiver clock behind
        (SECRET, str(TS), BODY + b" ", None, TS, False),  # body changed
        ("whsec_other", str(TS), BODY, None, TS, False),  # wrong secret
        (SECRET, str(TS), BODY, None, TS + 301, False),  # too old: a replay
        (SECRET, str(TS + 1), BODY, None, TS, False),  # timestamp changed
        (SECRET, "", BODY, None, TS, False),  # empty header
        (SECRET, "-1", BODY, None, TS, False),  # malformed
        (SECRET, "1e9", BODY, None, TS, False),
        (SECRET, "١٢٣", BODY, None, TS, False),  # non-ASCII digits
        (SECRET, str(TS), BODY, "sha256=", TS, False),
        (SECRET, str(TS), BODY, "", TS, False),
    ],
)
def test_verify(
    secret: str, timestamp: str, body: bytes, signature: str | None, now: int, ok: bool
) -> None:
    header = signature if signature is not None else sign(secret=SECRET, timestamp=TS, body=BODY)
    assert (
        verify(
            secret=secret,
            timestamp=timestamp,
            body=body,
            signature=header,
            now=float(now),
            tolerance_s=300,
        )
        is ok
    )
