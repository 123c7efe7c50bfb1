"""Strip camera credentials from URLs and from any text that may contain one.

Camera URLs carry passwords (``rtsp://admin:secret@10.0.0.7/stream``, or XMEye-style
``rtsp://10.0.0.7/user=admin&password=secret&channel=1``), and FFmpeg puts the URL into
its exception messages. Everything this package logs or stores as an error goes through
:func:`redact_text` first.

Example:
    >>> redact_url("rtsp://admin:secret@10.0.0.7:554/stream")
    'rtsp://***@10.0.0.7:554/stream'
"""

from __future__ import annotations

import re

REDACTED = "***"

# scheme://userinfo@ ; the userinfo may itself hold a raw "@" (a careless password), so take
# everything up to the last "@" before the host's "/", whitespace or a quote.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/'\"<>@]*(?:@[^\s/'\"<>@]*)*@")
# key=value credentials in a path or query (user=..., password=..., token=...).
_CREDENTIAL_PARAM = re.compile(
    r"(?i)(?<![a-z0-9_])(user|username|usr|pass|password|passwd|pwd|token|auth|authtoken|"
    r"api_key|apikey|key|secret)=([^&;\s'\"/]+)"
)


def redact_text(text: str) -> str:
    """Replace every credential inside URLs in ``text`` with ``***``.

    Args:
        text: Any text: a URL, a log message, an exception message.

    Returns:
        The text with the user-info part of each ``scheme://user:pass@host`` replaced by
        ``***`` and the values of credential parameters (``password=``, ``user=``,
        ``token=``, ...) replaced by ``***``. Text without credentials is returned as is.
    """
    if not text:
        return text
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    return _CREDENTIAL_PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


def redact_url(url: str) -> str:
    """A camera URL fit for a log line: ``rtsp://user:pass@host`` -> ``rtsp://***@host``.

    Args:
        url: The URL, possibly with credentials.

    Returns:
        The URL with its user-info and credential parameters replaced by ``***``.
    """
    return redact_text(url)
