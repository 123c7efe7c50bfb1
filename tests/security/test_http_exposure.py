"""Issue 17, High 4 and Low: what an unauthenticated visitor can reach over HTTP.

A server bound to a non-loopback address with login off refuses to start (unless
``--insecure``); the image turns login on; with login on, health, the API description
and its pages need a login (``/livez`` says only ``ok``); every response carries
``nosniff``, ``Referrer-Policy`` and ``no-store``; the session cookie is ``Secure`` behind
TLS. All against the real server (uvicorn, or ``python -m civicwatch server``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from civicwatch.services import free_port
from tests.security.http_support import (
    ACCOUNTS,
    bearer,
    login,
    secured_server,
    seed,
    server_settings,
)

REPO = Path(__file__).resolve().parents[2]


def _serve(tmp_path: Path, *args: str, auth: bool = False) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CIVICWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'cases.db'}",
        "CIVICWATCH_EVIDENCE_DIR": str(tmp_path / "evidence"),
        "CIVICWATCH_DEAD_LETTER_DIR": str(tmp_path / "dead-letter"),
        "CIVICWATCH_MQTT_ENABLED": "false",
        "CIVICWATCH_AUTH_ENABLED": "true" if auth else "false",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "civicwatch", "server", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _live(port: int, process: subprocess.Popen[bytes], timeout_s: float = 30) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code == 200
        except httpx.HTTPError:
            time.sleep(0.2)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=20)


def test_open_server_on_all_interfaces_refuses_to_start(tmp_path: Path) -> None:
    port = free_port()
    refused = _serve(tmp_path, "--host", "0.0.0.0", "--port", str(port))
    try:
        out, _ = refused.communicate(timeout=60)
    finally:
        _stop(refused)
    assert refused.returncode == 2, out.decode()
    assert b"not loopback" in out and b"--insecure" in out
    for args, auth in ((("--insecure",), False), ((), True)):
        port = free_port()
        server = _serve(tmp_path, "--host", "0.0.0.0", "--port", str(port), *args, auth=auth)
        try:
            assert _live(port, server), f"{args} auth={auth} did not start"
        finally:
            _stop(server)


def test_the_server_image_turns_login_on() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    stage = text.split("AS server", 1)[1].split("\nFROM ", 1)[0]
    assert '"--host", "0.0.0.0"' in stage
    assert re.search(r"CIVICWATCH_AUTH_ENABLED=true", stage), "the image serves without login"
    command = next(line for line in stage.splitlines() if line.startswith("CMD"))
    assert "--insecure" not in command


def test_health_docs_and_schema_need_a_login(tmp_path: Path) -> None:
    with secured_server(tmp_path) as server:
        for path in ("/healthz", "/docs", "/redoc", "/openapi.json"):
            response = httpx.get(server.url + path, timeout=10)
            assert response.status_code == 401, (path, response.text[:200])
            assert "edge-sec" not in response.text
        live = httpx.get(server.url + "/livez", timeout=10)
        assert live.status_code == 200 and live.json() == {"status": "ok"}
        headers = bearer(server.url, "olga")
        for path in ("/healthz", "/docs", "/redoc", "/openapi.json"):
            assert httpx.get(server.url + path, headers=headers, timeout=10).status_code == 200


def test_every_response_says_nosniff_no_referrer_and_no_store(tmp_path: Path) -> None:
    with secured_server(tmp_path) as server:
        headers = bearer(server.url, "olga")
        cases = httpx.get(f"{server.url}/api/v1/cases", headers=headers, timeout=10).json()
        sha = cases["items"][0]["evidence"][0]["sha256"]
        for path, auth in (
            ("/api/v1/cases", True),
            ("/api/v1/cases", False),
            ("/docs", True),
            ("/openapi.json", True),
            ("/login", False),
            (f"/api/v1/evidence/{sha}", True),
        ):
            response = httpx.get(server.url + path, headers=headers if auth else {}, timeout=10)
            assert response.headers.get("x-content-type-options") == "nosniff", path
            assert response.headers.get("referrer-policy") == "no-referrer", path
            assert "no-store" in response.headers.get("cache-control", ""), path
        evidence = httpx.get(f"{server.url}/api/v1/evidence/{sha}", headers=headers, timeout=10)
        assert evidence.status_code == 200
        assert "max-age=31536000" not in evidence.headers["cache-control"]


def test_session_cookie_is_secure_behind_tls(tmp_path: Path) -> None:
    name, (_, password) = "rita", ACCOUNTS["rita"]
    form = {"username": name, "password": password}
    with secured_server(tmp_path / "a", trusted_proxies=("127.0.0.1",)) as server:
        plain = login(server.url, name).headers["set-cookie"]
        assert "secure" not in plain.lower()  # loopback over plain http: the demo works
        via_proxy = httpx.post(
            f"{server.url}/login",
            data=form,
            headers={"X-Forwarded-Proto": "https"},
            timeout=30,
        )
        assert via_proxy.status_code == 303
        assert "secure" in via_proxy.headers["set-cookie"].lower()
    # The real command line, no trusted proxy: a client's own X-Forwarded-Proto is ignored.
    seed(server_settings(tmp_path / "b"))
    port = free_port()
    process = _serve(tmp_path / "b", "--port", str(port), auth=True)
    try:
        assert _live(port, process)
        spoofed = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            json=form,
            headers={"X-Forwarded-Proto": "https"},
            timeout=30,
        )
        assert spoofed.status_code == 200
        assert "secure" not in spoofed.headers["set-cookie"].lower()
    finally:
        _stop(process)
    with secured_server(tmp_path / "c", http_host="0.0.0.0") as server:  # a deployment
        assert "secure" in login(server.url, name).headers["set-cookie"].lower()


@pytest.fixture
def chromium_path() -> Path:
    path = Path("/usr/bin/chromium")
    if not path.exists():
        pytest.skip("/usr/bin/chromium is missing (Debian package 'chromium')")
    return path


def test_evidence_is_not_served_from_the_browser_cache_after_logout(
    tmp_path: Path, chromium_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with secured_server(tmp_path) as server, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium_path), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/login")
            page.fill("input[name=username]", "olga")
            page.fill("input[name=password]", ACCOUNTS["olga"][1])
            page.click("button[type=submit]")
            page.wait_for_url(f"{server.url}/")
            sha = page.evaluate(
                "fetch('/api/v1/cases').then(r => r.json())"
                ".then(j => j.items[0].evidence[0].sha256)"
            )
            url = f"{server.url}/api/v1/evidence/{sha}"
            first = page.goto(url)
            assert first is not None and first.status == 200
            page.goto(f"{server.url}/login")
            status = page.evaluate(
                "fetch('/api/v1/auth/logout', {method: 'POST', headers: {'X-CSRF-Token': "
                "document.cookie.match(/civicwatch_csrf=([^;]+)/)[1]}}).then(r => r.status)"
            )
            assert status == 204
            # The same URL again, as a link or an <img> would load it: the cache must not answer.
            again = page.evaluate(f"fetch('{url}').then(r => r.status)")
            assert again == 401
            reloaded = page.goto(url)
            assert reloaded is not None and reloaded.status == 401
        finally:
            browser.close()
