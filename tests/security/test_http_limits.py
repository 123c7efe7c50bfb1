"""Issue 17, Medium: login guessing and oversized bodies against the real server.

64 parallel wrong guesses must not slow the API (they are refused at once beyond a few
concurrent password checks, and an address that keeps failing is throttled); an account
locks after repeated failures, for longer each time; a login body of hundreds of MB is
refused (413) before it is read, whether it declares its length or streams it.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.security.http_support import ACCOUNTS, bearer, login, secured_server


def test_parallel_guesses_do_not_starve_the_api(tmp_path: Path) -> None:
    with secured_server(tmp_path) as server:
        headers = bearer(server.url, "olga")

        def guess(i: int) -> int:
            return login(server.url, "rita", f"wrong-guess-{i:04d}").status_code

        def read_latency() -> float:
            started = time.monotonic()
            response = httpx.get(f"{server.url}/api/v1/cases", headers=headers, timeout=30)
            assert response.status_code == 200
            return time.monotonic() - started

        with ThreadPoolExecutor(max_workers=64) as pool:
            guesses = [pool.submit(guess, i) for i in range(64)]
            time.sleep(0.05)
            latencies = [read_latency() for _ in range(5)]
            codes = [g.result() for g in guesses]
        assert codes.count(429) >= 32, codes  # refused without hashing
        assert set(codes) <= {401, 429}
        assert max(latencies) < 2.0, latencies  # 4-7 s before the guard


def test_an_account_locks_after_failures_with_back_off(tmp_path: Path) -> None:
    with secured_server(
        tmp_path, login={"account_failures": 3, "lockout_s": 1, "per_ip_in_flight": 4}
    ) as server:
        for i in range(3):
            assert login(server.url, "rita", f"wrong-{i}-password").status_code == 401
        locked = login(server.url, "rita")  # even the right password
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
        time.sleep(1.2)
        assert login(server.url, "rita", "wrong-again-pass").status_code == 401
        relocked = login(server.url, "rita")
        assert relocked.status_code == 429 and int(relocked.headers["retry-after"]) >= 2
        time.sleep(2.2)
        assert login(server.url, "rita").status_code == 200  # a login resets the count
        assert login(server.url, "rita", "one-more-wrong1").status_code == 401
        assert login(server.url, "rita").status_code == 200


def test_an_address_that_keeps_failing_is_throttled(tmp_path: Path) -> None:
    with secured_server(tmp_path, login={"ip_failures": 5, "account_failures": 100}) as server:
        for i in range(5):
            name = ("olga", "rita", "adam", "nobody")[i % 4]
            assert login(server.url, name, f"spray-{i}-password").status_code == 401
        throttled = login(server.url, "adam")
        assert throttled.status_code == 429 and "retry-after" in throttled.headers
        page = httpx.post(
            f"{server.url}/login",
            data={"username": "adam", "password": ACCOUNTS["adam"][1]},
            timeout=10,
        )
        assert page.status_code == 429 and "Too many attempts" in page.text


def _raw_request(port: int, head: bytes, body_chunks: int, chunk: bytes) -> tuple[bytes, int]:
    """Send ``head`` then up to ``body_chunks`` chunks; the response and the bytes sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        sock.settimeout(0.01)
        response = b""
        for _ in range(body_chunks):
            try:
                sock.sendall(chunk)
                sent += len(chunk)
            except OSError:
                break
            try:
                response += sock.recv(65536)
            except TimeoutError:
                continue
            if response:
                break
        sock.settimeout(10)
        try:
            while b"\r\n\r\n" not in response:
                data = sock.recv(65536)
                if not data:
                    break
                response += data
        except OSError:
            pass
    return response, sent


def test_huge_bodies_are_refused_before_they_are_read(tmp_path: Path) -> None:
    with secured_server(tmp_path) as server:
        declared = (
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 314572800\r\n\r\n"
        )
        response, sent = _raw_request(server.port, declared, 4800, b"x" * 65536)
        assert response.startswith(b"HTTP/1.1 413"), response[:200]
        assert sent < 16 * 1024 * 1024, sent  # answered long before 300 MB went out
        chunked = (
            b"POST /login HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        piece = b"a" * 65536
        response, sent = _raw_request(
            server.port, chunked, 4800, b"%x\r\n%s\r\n" % (len(piece), piece)
        )
        assert response.startswith(b"HTTP/1.1 413"), response[:200]
        assert sent < 16 * 1024 * 1024, sent
        big_api = httpx.post(
            f"{server.url}/api/v1/cases/1/review",
            content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
            headers={**bearer(server.url, "rita"), "Content-Type": "application/json"},
            timeout=30,
        )
        assert big_api.status_code == 413
        assert login(server.url, "rita").status_code == 200  # ordinary logins still work
