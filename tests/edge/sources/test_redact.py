from __future__ import annotations

import pytest

from edge.sources.redact import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", ""),
        ("rtsp://user:pass@host/stream", "rtsp://***@host/stream"),
        ("rtsp://admin:secret@10.0.0.7:554/ch1", "rtsp://***@10.0.0.7:554/ch1"),
        ("rtsp://admin@10.0.0.7/ch1", "rtsp://***@10.0.0.7/ch1"),
        ("rtsp://admin:p@ss@10.0.0.7/ch1", "rtsp://***@10.0.0.7/ch1"),
        ("rtsp://admin:pa%40ss@10.0.0.7/ch1", "rtsp://***@10.0.0.7/ch1"),
        ("RTSPS://U:P@cam.example:322/x", "RTSPS://***@cam.example:322/x"),
        ("rtsp://10.0.0.7:554/stream", "rtsp://10.0.0.7:554/stream"),
        ("rtsp://10.0.0.7/cam/realmonitor?channel=1&subtype=0", None),
        (
            "rtsp://10.0.0.7/user=admin&password=xyz&channel=1&stream=0.sdp",
            "rtsp://10.0.0.7/user=***&password=***&channel=1&stream=0.sdp",
        ),
        (
            "rtsp://a:b@h/live?token=abc123&channel=2",
            "rtsp://***@h/live?token=***&channel=2",
        ),
        ("rtsp://[fe80::1]:554/s", "rtsp://[fe80::1]:554/s"),
        ("rtsp://u:p@[fe80::1]:554/s", "rtsp://***@[fe80::1]:554/s"),
    ],
)
def test_redact_url(url: str, expected: str | None) -> None:
    assert redact_url(url) == (url if expected is None else expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[Errno 1094995529] Invalid data: 'rtsp://alice:s3cret@127.0.0.1:8554/stream'",
            "[Errno 1094995529] Invalid data: 'rtsp://***@127.0.0.1:8554/stream'",
        ),
        (
            "two cams rtsp://a:1@h1/x and rtsp://b:2@h2/y failed",
            "two cams rtsp://***@h1/x and rtsp://***@h2/y failed",
        ),
        ("mail bob@example.com about it", "mail bob@example.com about it"),
        ("no url here", "no url here"),
        ("url=rtsp://u:p@h/s", "url=rtsp://***@h/s"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_is_idempotent() -> None:
    once = redact_url("rtsp://user:pass@host/s?password=x")
    assert redact_url(once) == once
    assert "pass@" not in once and "=x" not in once
