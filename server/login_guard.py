"""Per-address login limits and a bound on concurrent password hashing.

argon2id is made expensive on purpose (about 64 MiB and tens of milliseconds per check),
so unbounded parallel guesses starve the API and its memory. :class:`LoginGuard` admits
a login attempt only when fewer than ``max_concurrent_hashes`` checks run in all, fewer
than ``per_ip_in_flight`` from the same address, and that address has made fewer than
``ip_failures`` failed logins in the last ``ip_window_s``; otherwise it refuses at once
(:class:`LoginThrottledError`, HTTP 429 with ``Retry-After``) without hashing or waiting,
so a flood never queues behind the hasher. The per-account lockout lives with the
account (:func:`server.auth.authenticate`).

Example:
    >>> guard = LoginGuard(LoginLimits())
    >>> with guard.attempt("203.0.113.7") as attempt:
    ...     attempt.failed()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

from server.core.config import LoginLimits

logger = logging.getLogger(__name__)

MAX_TRACKED_ADDRESSES: Final[int] = 100_000
"""Addresses whose failures are remembered; the least recently failing are forgotten first."""


class LoginThrottledError(Exception):
    """A login was refused before the password was checked; retry after ``retry_after_s``."""

    def __init__(self, reason: str, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(reason)


class _Attempt:
    def __init__(self) -> None:
        self.failure = False

    def failed(self) -> None:
        """Count this attempt as a failed login of its address."""
        self.failure = True


class LoginGuard:
    """Admission control for logins (one per server; thread-safe)."""

    def __init__(self, limits: LoginLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._hashing = 0
        self._in_flight: dict[str, int] = {}
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent_failures(self, address: str, now: float) -> deque[float]:
        times = self._failures.get(address)
        if times is None:
            return deque()
        while times and times[0] <= now - self._limits.ip_window_s:
            times.popleft()
        if not times:
            del self._failures[address]
        return times

    def _admit(self, address: str) -> None:
        limits = self._limits
        now = self._clock()
        with self._lock:
            failures = self._recent_failures(address, now)
            if len(failures) >= limits.ip_failures:
                wait = int(failures[0] + limits.ip_window_s - now) + 1
                raise LoginThrottledError(
                    f"too many failed logins from this address; try again in {wait} s", wait
                )
            if self._in_flight.get(address, 0) >= limits.per_ip_in_flight:
                raise LoginThrottledError("a login from this address is already running", 1)
            if self._hashing >= limits.max_concurrent_hashes:
                raise LoginThrottledError("the server is busy checking logins", 1)
            self._hashing += 1
            self._in_flight[address] = self._in_flight.get(address, 0) + 1

    def _release(self, address: str, *, failed: bool) -> None:
        now = self._clock()
        with self._lock:
            self._hashing -= 1
            left = self._in_flight[address] - 1
            if left:
                self._in_flight[address] = left
            else:
                del self._in_flight[address]
            if failed:
                times = self._failures.setdefault(address, deque())
                times.append(now)
                self._failures.move_to_end(address)
                while len(self._failures) > MAX_TRACKED_ADDRESSES:
                    self._failures.popitem(last=False)

    @contextmanager
    def attempt(self, address: str) -> Iterator[_Attempt]:
        """Admit one login from ``address`` for the block; call ``failed()`` on a failure.

        Raises:
            LoginThrottledError: Refused; nothing was checked.
        """
        self._admit(address)
        attempt = _Attempt()
        try:
            yield attempt
        finally:
            self._release(address, failed=attempt.failure)
