"""Back-off with jitter and the dead-letter limit (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.webhooks.policy import RetryPolicy

POLICY = RetryPolicy(max_attempts=5, backoff_base_s=10.0, backoff_max_s=60.0)
NOW = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("failures", "jitter", "delay"),
    [
        (1, 0.0, 5.0),
        (1, 0.999999, 9.99999),
        (2, 0.0, 10.0),
        (3, 0.5, 30.0),
        (4, 0.0, 30.0),  # 80 s capped at 60, halved by the jitter floor
        (30, 0.0, 30.0),
        (10_000, 0.0, 30.0),  # no overflow
    ],
)
def test_delay_doubles_up_to_the_cap(failures: int, jitter: float, delay: float) -> None:
    assert POLICY.delay_s(failures, jitter) == pytest.approx(delay)


@pytest.mark.parametrize(("failures", "jitter"), [(0, 0.5), (1, -0.1), (1, 1.0)])
def test_bad_arguments_are_refused(failures: int, jitter: float) -> None:
    with pytest.raises(ValueError, match="must"):
        POLICY.delay_s(failures, jitter)


def test_dead_after_max_attempts() -> None:
    assert POLICY.after_failure(4, now=NOW, jitter=0.0) == NOW + timedelta(seconds=30)
    assert POLICY.after_failure(5, now=NOW, jitter=0.0) is None
    single = RetryPolicy(max_attempts=1, backoff_base_s=1, backoff_max_s=1)
    assert single.after_failure(1, now=NOW, jitter=0.3) is None
