"""Signing webhook bodies, and the check a receiver makes (pure functions, no I/O).

The signature is ``sha256=`` and the hex HMAC-SHA256, keyed by the subscription's secret,
over ``timestamp + "." + body``: the bytes of the ``X-Civicwatch-Timestamp`` header (Unix
seconds), a dot, and the raw request body. A receiver recomputes it over the bytes it
received, compares in constant time and refuses a timestamp further than its tolerance from
its own clock (a replayed old call then fails even with a valid signature).

Example:
    >>> header = sign(secret="s3cret", timestamp=1700000000, body=b'{"a":1}')
    >>> verify(secret="s3cret", timestamp="1700000000", body=b'{"a":1}', signature=header,
    ...        now=1700000010.0, tolerance_s=300)
    True
"""

from __future__ import annotations

import hmac
from typing import Final

SIGNATURE_PREFIX: Final[str] = "sha256="
DEFAULT_TOLERANCE_S: Final[float] = 300.0
"""How far from the receiver's clock a timestamp may be (the documented default)."""


def signed_bytes(*, timestamp: int, body: bytes) -> bytes:
    """The bytes the signature covers: ``timestamp``, a dot, ``body``."""
    return str(timestamp).encode("ascii") + b"." + body


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Civicwatch-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(
        secret.encode("utf-8"), signed_bytes(timestamp=timestamp, body=body), "sha256"
    )
    return SIGNATURE_PREFIX + digest.hexdigest()


def verify(
    *,
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether a received call is authentic and fresh (what a receiver should do).

    Args:
        secret: The subscription's secret.
        timestamp: The ``X-Civicwatch-Timestamp`` header as received.
        body: The raw request body as received (not re-serialised).
        signature: The ``X-Civicwatch-Signature`` header as received.
        now: The receiver's clock, Unix seconds.
        tolerance_s: Largest accepted distance between ``timestamp`` and ``now``.

    Returns:
        ``True`` only when the timestamp is an integer within the tolerance and the signature
        matches; a malformed header is ``False``, never an exception.
    """
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    sent = int(timestamp)
    if abs(now - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret=secret, timestamp=sent, body=body), signature)
