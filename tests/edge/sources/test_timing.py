from __future__ import annotations

import pytest

from edge.sources.timing import (
    Backoff,
    CaptureClock,
    KeyframeInterval,
    Pacer,
    RateLimiter,
    Watchdog,
    backoff_delay_s,
)


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, 0.0), (1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 5.0), (6, 5.0), (10_000, 5.0)],
)
def test_backoff_delay_schedule(failures: int, expected: float) -> None:
    assert backoff_delay_s(failures, initial_s=0.5, max_s=5.0) == expected


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"initial_s": 0.0, "max_s": 1.0}, "initial_s"),
        ({"initial_s": 2.0, "max_s": 1.0}, "max_s"),
        ({"initial_s": 1.0, "max_s": 2.0, "factor": 0.5}, "factor"),
    ],
)
def test_backoff_rejects_bad_parameters(kwargs: dict[str, float], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        backoff_delay_s(1, **kwargs)
    with pytest.raises(ValueError, match="failures"):
        backoff_delay_s(-1, initial_s=1.0, max_s=2.0)


def test_backoff_factor_one_is_constant() -> None:
    assert [backoff_delay_s(n, initial_s=3, max_s=9, factor=1) for n in (1, 2, 50)] == [3, 3, 3]


def test_backoff_retry_times_and_reset() -> None:
    backoff = Backoff(initial_s=1.0, max_s=8.0)
    now = 1000.0
    retry_at = []
    for _ in range(6):
        retry_at.append(backoff.on_failure(now) - now)
    assert retry_at == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    backoff.on_success()
    assert backoff.delay_s == 0.0
    assert backoff.on_failure(now=5.0) == 6.0


def test_watchdog() -> None:
    dog = Watchdog(timeout_s=2.0, last_fed=10.0)
    assert not dog.expired(11.9)
    assert not dog.expired(12.0)
    assert dog.expired(12.01)
    dog.feed(12.5)
    assert not dog.expired(14.0)
    assert dog.silent_for(14.0) == pytest.approx(1.5)
    assert dog.silent_for(12.0) == 0.0  # a clock read before the feed
    with pytest.raises(ValueError):
        Watchdog(timeout_s=0, last_fed=0)


def _admitted(limiter: RateLimiter, times: list[float]) -> list[int]:
    return [i for i, t in enumerate(times) if limiter.admit(t)]


def test_rate_limiter_25_to_10_fps_is_exactly_10() -> None:
    times = [i / 25 for i in range(250)]  # 10 s at 25 fps
    assert len(_admitted(RateLimiter(fps=10.0), times)) == 100


def test_rate_limiter_25_to_5_fps_takes_every_fifth() -> None:
    times = [i / 25 for i in range(50)]
    assert _admitted(RateLimiter(fps=5.0), times) == list(range(0, 50, 5))


def test_rate_limiter_above_source_rate_takes_all() -> None:
    times = [i / 25 for i in range(30)]
    assert _admitted(RateLimiter(fps=30.0), times) == list(range(30))


def test_rate_limiter_tolerates_jitter_and_restarts_after_gap() -> None:
    limiter = RateLimiter(fps=2.0)
    # 0.499 is 1 ms early: still on the grid; then a 10 s gap restarts the grid at 10.7.
    assert [limiter.admit(t) for t in (0.0, 0.3, 0.499, 0.8, 10.7, 11.0, 11.2)] == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
    ]


def test_rate_limiter_empty_and_invalid() -> None:
    assert _admitted(RateLimiter(fps=1.0), []) == []
    with pytest.raises(ValueError):
        RateLimiter(fps=0.0)


def test_pacer_waits_until_media_time_is_due() -> None:
    pacer = Pacer(start=100.0)
    assert pacer.wait_s(media_t=0.0, now=100.0) == 0.0
    assert pacer.wait_s(media_t=0.04, now=100.01) == pytest.approx(0.03)
    assert pacer.wait_s(media_t=0.08, now=100.5) == 0.0  # late but within max_lag: no wait


def test_pacer_rebases_instead_of_bursting_when_far_behind() -> None:
    pacer = Pacer(start=0.0, max_lag_s=1.0)
    assert pacer.wait_s(media_t=1.0, now=5.0) == 0.0  # 4 s late: rebase
    assert pacer.wait_s(media_t=1.04, now=5.0) == pytest.approx(0.04)


@pytest.mark.parametrize(
    ("keyframes_s", "period_s", "expected"),
    [
        # keyframes every 2 s, a look every 4 s: every other keyframe
        ([0, 2, 4, 6, 8, 10, 12], 4.0, [0, 4, 8, 12]),
        # keyframes a little faster than half the period: still one look per period on
        # average (waiting for the first keyframe after the due time would give 6 s)
        ([0, 1.99, 3.98, 5.97, 7.96, 9.95, 11.94], 4.0, [0, 3.98, 7.96, 11.94]),
        # keyframes slower than the rate asked: every keyframe, never more
        ([0, 2, 4], 1.0, [0, 2, 4]),
        ([], 4.0, []),
    ],
)
def test_rate_limiter_on_keyframes_admits_half_an_interval_early(
    keyframes_s: list[float], period_s: float, expected: list[float]
) -> None:
    limiter, gop = RateLimiter(fps=1 / period_s), KeyframeInterval()
    admitted = []
    for t in keyframes_s:
        gop.seen(t)
        if limiter.due(t, gop.early_s):
            assert limiter.admit(t, gop.early_s)
            admitted.append(t)
    assert admitted == expected


def test_rate_limiter_due_changes_nothing() -> None:
    limiter = RateLimiter(fps=1.0)
    assert limiter.due(0.0) and limiter.due(0.0)
    assert limiter.admit(0.0)
    assert not limiter.due(0.5) and limiter.due(0.5, early_s=0.6)
    assert limiter.next_due == 1.0


def test_keyframe_interval_ignores_missing_and_repeated_times() -> None:
    gop = KeyframeInterval()
    assert gop.early_s == 0.0
    assert gop.seen(None) is None and gop.seen(5.0) is None
    assert gop.seen(5.0) is None and gop.interval_s is None
    assert gop.seen(7.0) == 2.0 and gop.early_s == 1.0


def test_capture_clock_keeps_the_capture_time_of_a_late_frame() -> None:
    clock = CaptureClock()
    assert clock.capture_time(100.0, now=5000.0) == 5000.0  # anchors
    # decoded 3 s late (a busy decoder): still stamped when it was taken
    assert clock.capture_time(101.0, now=5004.0) == 5001.0


def test_capture_clock_reanchors() -> None:
    clock = CaptureClock()
    clock.capture_time(100.0, now=5000.0)  # the anchor frame arrived 0.3 s late
    assert clock.capture_time(101.0, now=5000.7) == 5000.7  # earlier than possible: re-anchor
    assert clock.capture_time(102.0, now=5001.8) == pytest.approx(5001.7)
    assert clock.capture_time(10.0, now=5002.0) == 5002.0  # media time went backwards
    assert clock.capture_time(500.0, now=5003.0) == 5003.0  # jumped far ahead
    assert clock.capture_time(501.0, now=5100.0) == 5100.0  # 96 s behind: a new anchor
    assert clock.capture_time(None, now=5101.5) == 5101.5
