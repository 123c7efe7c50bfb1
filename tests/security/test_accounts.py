"""Issue 17, Low: weak passwords and accounts that cannot be disabled.

``civicwatch users add`` refuses ``aaaaaaaaaa``, the user name plus digits and common
passwords; ``civicwatch users disable`` ends an account's sessions at once and refuses
its logins (API and page) until ``users enable``. The commands run as a user would run
them, against the database of a running server.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.security.http_support import (
    ACCOUNTS,
    bearer,
    civicwatch,
    login,
    secured_server,
    write_config,
)


def _users(config: Path, *args: str, password: str = "") -> subprocess.CompletedProcess[str]:
    return civicwatch(
        "users", *args, "--config", str(config), env={"CIVICWATCH_NEW_PASSWORD": password}
    )


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("aaaaaaaaaa", "different characters"),
        ("zoe1234567890", "user name"),
        ("password123", "common"),
        ("Qwertyuiop!", "common"),
    ],
)
def test_weak_passwords_are_refused(tmp_path: Path, password: str, why: str) -> None:
    result = _users(
        write_config(tmp_path), "add", "--username", "zoe", "--role", "reviewer", password=password
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert why in result.stderr


def test_a_disabled_account_cannot_log_in_and_its_sessions_end(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with secured_server(tmp_path) as server:
        headers = bearer(server.url, "rita")
        assert (
            httpx.get(f"{server.url}/api/v1/cases", headers=headers, timeout=10).status_code == 200
        )
        done = _users(config, "disable", "--username", "rita")
        assert done.returncode == 0, done.stderr
        assert (
            httpx.get(f"{server.url}/api/v1/cases", headers=headers, timeout=10).status_code == 401
        )
        assert login(server.url, "rita").status_code == 401
        page = httpx.post(
            f"{server.url}/login",
            data={"username": "rita", "password": ACCOUNTS["rita"][1]},
            timeout=10,
        )
        assert page.status_code == 401
        listed = _users(config, "list")
        assert "rita\treviewer\t" in listed.stdout and "\tyes\t" in listed.stdout
        assert _users(config, "enable", "--username", "rita").returncode == 0
        assert login(server.url, "rita").status_code == 200
        missing = _users(config, "disable", "--username", "nobody")
        assert missing.returncode == 2 and "no user" in missing.stderr
