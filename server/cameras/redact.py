"""Stream URLs without their credentials: what the API returns and what logs may show."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"
_SECRET_PARAMS = frozenset(
    {"user", "username", "password", "passwd", "pwd", "pass", "token", "auth", "key"}
)
"""Query parameters some cameras take credentials in (``?user=admin&password=...``)."""


def _redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
        return query
    return urlencode(
        [(k, REDACTED if k.lower() in _SECRET_PARAMS else v) for k, v in pairs], safe="*"
    )


def redact_url(url: str) -> str:
    """``url`` with any user name and password replaced by ``***``.

    A URL that cannot be parsed is replaced whole, so nothing of it can leak.

    Example:
        >>> redact_url("rtsp://admin:secret@10.0.0.5:554/stream1")
        'rtsp://***@10.0.0.5:554/stream1'
        >>> redact_url("rtsp://10.0.0.5/stream1")
        'rtsp://10.0.0.5/stream1'
        >>> redact_url("http://10.0.0.5/video?user=admin&password=secret&ch=1")
        'http://10.0.0.5/video?user=***&password=***&ch=1'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return REDACTED
    query = _redact_query(parts.query)
    if parts.username is None and parts.password is None and "@" not in parts.netloc:
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    netloc = host or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"  # an IPv6 literal
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme, f"{REDACTED}@{netloc}", parts.path, query, ""))
