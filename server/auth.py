"""Users, roles and logins for the HTTP API and the review page.

Passwords are stored as argon2id hashes (``argon2-cffi``'s defaults) and must pass
:func:`check_password_policy`; a login issues a
random bearer token of which only the sha256 is stored, with an expiry. A request
authenticates with ``Authorization: Bearer <token>`` or the ``civicwatch_session``
cookie the login page sets (HttpOnly, SameSite=Strict). Neither passwords nor tokens
are ever logged.

Roles: ``operator`` reads cases, evidence and chains; ``reviewer`` also gives verdicts;
``admin`` may do everything; ``edge`` is a device account with no HTTP access to cases
(edges publish over MQTT). With ``auth_enabled`` off every request acts as an anonymous
admin, which the server announces with a warning at start.

Guessing is bounded: ``account_failures`` consecutive wrong passwords lock an account for
``lockout_s``, doubling with every further failure (:class:`AccountLockedError`; no
password is hashed while locked). A disabled account cannot log in and its tokens stop
working at once.

This module knows users, passwords, tokens and roles; the FastAPI dependencies that
apply them to a request (``ReaderDep``, ``ReviewerDep``) live in :mod:`server.api.deps`,
above it.

Example:
    >>> principal_for_token(session, token=token, now=utcnow())  # doctest: +SKIP
    Principal(username='ana', role=<UserRole.REVIEWER: 'reviewer'>, authenticated=True)
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib.resources import files
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.core.config import LoginLimits
from server.org.tables import Unit, UnitLevel
from server.tables import ApiToken, User, UserRole

logger = logging.getLogger(__name__)

COOKIE_NAME: Final[str] = "civicwatch_session"
USERNAME_PATTERN: Final[str] = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
MIN_PASSWORD_LENGTH: Final[int] = 10
MIN_DISTINCT_CHARACTERS: Final[int] = 5

READ_ROLES: Final[tuple[UserRole, ...]] = (
    UserRole.OPERATOR,
    UserRole.REVIEWER,
    UserRole.DISPATCHER,
    UserRole.TEAM,
    UserRole.ADMIN,
)
"""Roles that read cases (each within its unit's subtree, :mod:`server.org.scope`)."""
REVIEW_ROLES: Final[tuple[UserRole, ...]] = (UserRole.REVIEWER, UserRole.ADMIN)
DISPATCH_ROLES: Final[tuple[UserRole, ...]] = (UserRole.DISPATCHER, UserRole.ADMIN)
"""Dispatch to a team, verify a disposal, close, reopen."""
DISPOSE_ROLES: Final[tuple[UserRole, ...]] = (UserRole.TEAM, UserRole.ADMIN)
"""Report a disposal."""
ESCALATE_ROLES: Final[tuple[UserRole, ...]] = (
    UserRole.REVIEWER,
    UserRole.DISPATCHER,
    UserRole.ADMIN,
)
"""Move a case to the unit above."""

_hasher = PasswordHasher()
# Verified when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH: Final[str] = _hasher.hash("civicwatch-no-such-user")


class UserError(ValueError):
    """A user cannot be created or changed; the message says why."""


class AccountLockedError(Exception):
    """Too many wrong passwords: the account refuses logins until ``until``."""

    def __init__(self, username: str, until: datetime, now: datetime) -> None:
        self.retry_after_s = max(1, int((until - now).total_seconds() + 0.999))
        super().__init__(f"account {username!r} is locked for {self.retry_after_s} s")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making a request.

    Attributes:
        username: The user, or ``anonymous`` when authentication is off.
        role: What they may do.
        authenticated: ``False`` only for the anonymous principal of an open server.
        unit_id: The account's unit; it acts on that unit's subtree (``None``: city-wide).
    """

    username: str
    role: UserRole
    authenticated: bool = True
    unit_id: str | None = None


ANONYMOUS_ADMIN: Final[Principal] = Principal("anonymous", UserRole.ADMIN, authenticated=False)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (PHC string format)."""
    return _hasher.hash(password)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (``server/data/common-passwords.txt``), lowercase."""
    text = files("server.data").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def check_password_policy(password: str, *, username: str) -> None:
    """Refuse a password that is short, mostly one character, names the user or is common.

    Raises:
        UserError: The password breaks a rule; the message says which.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    counts = Counter(password.lower())
    if len(counts) < MIN_DISTINCT_CHARACTERS or counts.most_common(1)[0][1] * 2 > len(password):
        raise UserError(
            f"password must have at least {MIN_DISTINCT_CHARACTERS} different characters "
            "and no character in more than half of it"
        )
    lowered = password.lower()
    if len(username) >= 3 and username.lower() in lowered:
        raise UserError("password must not contain the user name")
    stem = lowered.rstrip("0123456789!@#$%^&*.?_- ")
    listed = common_passwords()
    if lowered in listed or stem in listed:
        raise UserError("password is on the list of common passwords")


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: UserRole,
    now: datetime,
    unit_id: str | None = None,
) -> User:
    """Add a user (the caller commits); ``unit_id`` places the account in a unit.

    Raises:
        UserError: A malformed or taken name, a password that is too short, or a unit that
            does not exist.
    """
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise UserError(f"user name {username[:70]!r} must match {USERNAME_PATTERN}")
    check_password_policy(password, username=username)
    if session.get(User, username) is not None:
        raise UserError(f"user {username!r} exists")
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    if unit_id is not None and unit is None:
        raise UserError(f"unit {unit_id!r} does not exist (load the units file first)")
    if role is UserRole.TEAM and (unit is None or unit.level is not UnitLevel.TEAM):
        raise UserError("a team account belongs to a team-level unit (--unit)")
    user = User(
        username=username,
        role=role,
        password_hash=hash_password(password),
        created_at=now,
        disabled_at=None,
        unit_id=unit_id,
    )
    session.add(user)
    session.flush()
    logger.info("user %s created with role %s", username, role.value)
    return user


def set_password(session: Session, *, username: str, password: str) -> None:
    """Replace a user's password and end their sessions.

    Raises:
        UserError: No such user, or a password that is too short.
    """
    check_password_policy(password, username=username)
    user = session.get(User, username)
    if user is None:
        raise UserError(f"no user {username!r}")
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.execute(delete(ApiToken).where(ApiToken.username == username))
    session.flush()
    logger.info("password of user %s changed; their sessions ended", username)


def set_disabled(session: Session, *, username: str, disabled: bool, now: datetime) -> None:
    """Disable an account (its sessions end at once) or enable it again (the caller commits).

    Raises:
        UserError: No such user.
    """
    user = session.get(User, username)
    if user is None:
        raise UserError(f"no user {username!r}")
    user.disabled_at = now if disabled else None
    user.failed_logins = 0
    user.locked_until = None
    if disabled:
        session.execute(delete(ApiToken).where(ApiToken.username == username))
    session.flush()
    logger.warning(
        "user %s %s", username, "disabled; their sessions ended" if disabled else "enabled"
    )


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    now: datetime,
    limits: LoginLimits | None = None,
) -> User | None:
    """The user if the password matches and the account is enabled, else ``None``.

    A wrong password counts against the account (the caller commits either way); after
    ``limits.account_failures`` in a row the account locks, for longer each time.

    Raises:
        AccountLockedError: The account is locked; no password was checked.
    """
    limits = limits or LoginLimits()
    user = session.get(User, username) if re.fullmatch(USERNAME_PATTERN, username) else None
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise AccountLockedError(username, user.locked_until, now)
    try:
        _hasher.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        if user is not None:
            _count_failure(user, now=now, limits=limits)
        return None
    if user is None or user.disabled_at is not None:
        return None
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _count_failure(user: User, *, now: datetime, limits: LoginLimits) -> None:
    user.failed_logins = (user.failed_logins or 0) + 1
    over = user.failed_logins - limits.account_failures
    if over >= 0:
        lock_s = min(limits.lockout_s * 2 ** min(over, 30), limits.lockout_max_s)
        user.locked_until = now + timedelta(seconds=lock_s)
        logger.warning(
            "user %s locked for %d s after %d failed logins",
            user.username,
            lock_s,
            user.failed_logins,
        )


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def issue_token(session: Session, *, user: User, now: datetime, ttl_s: int) -> tuple[str, datetime]:
    """A new login token for ``user`` and its expiry (the caller commits)."""
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=ttl_s)
    session.add(
        ApiToken(
            token_sha256=_token_digest(token),
            username=user.username,
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.execute(delete(ApiToken).where(ApiToken.expires_at < now))
    session.flush()
    return token, expires_at


def revoke_token(session: Session, *, token: str) -> None:
    session.execute(delete(ApiToken).where(ApiToken.token_sha256 == _token_digest(token)))


def principal_for_token(session: Session, *, token: str, now: datetime) -> Principal | None:
    """Who holds ``token``, or ``None`` if it is unknown, expired or the user disabled."""
    if not token or len(token) > 256:
        return None
    row = session.execute(
        select(User.username, User.role, User.unit_id, User.disabled_at, ApiToken.expires_at)
        .join(ApiToken, ApiToken.username == User.username)
        .where(ApiToken.token_sha256 == _token_digest(token))
    ).first()
    if row is None or row.expires_at <= now or row.disabled_at is not None:
        return None
    return Principal(username=row.username, role=row.role, unit_id=row.unit_id)


def request_token(request: Request) -> str | None:
    """The bearer token of a request (header first, then the session cookie)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE_NAME) or None


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))
