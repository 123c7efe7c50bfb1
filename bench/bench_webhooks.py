"""Webhook delivery: throughput by sender concurrency, and latency from commit to receipt.

A real receiver on loopback (``http.server``, answering after ``--receiver-ms`` to stand in for
the city's system) and a SQLite database in a temp dir, migrated to head. Cases are committed
the way the ingest commits them (``crud.upsert_event``); the dispatcher
(:class:`server.webhooks.dispatcher.WebhookDispatcher`) derives a ``created`` event and a
delivery for each, signs and sends it.

* throughput: ``--cases`` cases committed at once, then rounds run back to back until every
  delivery is delivered; concurrency 1 and 4 measured in the same run, side by side;
* latency: the dispatcher running as in the server (its thread, ``poll_interval_s`` 0.5 s),
  one case committed every 50 ms; commit to the receiver having the call, per case.

Run from the repository root (under a minute)::

    .venv/bin/python bench/bench_webhooks.py --write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from results_file import write_section  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from server.core.config import WebhookSettings  # noqa: E402
from server.core.db import make_engine, make_session_factory, run_migrations  # noqa: E402
from server.webhooks.dispatcher import WebhookDispatcher  # noqa: E402
from server.webhooks.subscriptions import create_subscription  # noqa: E402
from server.webhooks.tables import WebhookEventKind  # noqa: E402
from tests.server.webhooks.seed import seed_case, seed_units  # noqa: E402

SECTION = "## Webhooks"


@contextmanager
def receiver(delay_s: float) -> Iterator[tuple[str, dict[int, float]]]:
    """A loopback receiver; yields its URL and case id -> monotonic time of the first call."""
    got: dict[int, float] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(delay_s)
            with lock:
                got.setdefault(json.loads(body)["case"]["id"], time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    finally:
        server.shutdown()
        server.server_close()


def _database(folder: Path, url: str) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    run_migrations(engine)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    with factory() as session, session.begin():
        seed_units(session, now)
        create_subscription(
            session,
            name="bench",
            url=url,
            kinds=[WebhookEventKind.CREATED],
            unit_id=None,
            enabled=True,
            created_by="bench",
            now=now,
        )
    return factory


def throughput(cases: int, concurrency: int, delay_s: float) -> float:
    """Deliveries per second with ``concurrency`` senders."""
    with tempfile.TemporaryDirectory() as folder, receiver(delay_s) as (url, got):
        factory = _database(Path(folder), url)
        settings = WebhookSettings(concurrency=concurrency, settle_s=0, batch=100)
        dispatcher = WebhookDispatcher(factory, settings)
        dispatcher.run_once()  # cursors start here
        with factory() as session, session.begin():
            for n in range(cases):
                seed_case(session, number=10_000 + n, received_at=datetime.now(UTC))
        started = time.monotonic()
        while len(got) < cases:
            dispatcher.run_once()
        elapsed = time.monotonic() - started
        dispatcher.stop()
        return cases / elapsed


def latency(cases: int, delay_s: float) -> list[float]:
    """Seconds from each case's commit to its call arriving, dispatcher in its thread."""
    with tempfile.TemporaryDirectory() as folder, receiver(delay_s) as (url, got):
        factory = _database(Path(folder), url)
        settings = WebhookSettings(poll_interval_s=0.5, settle_s=0)
        dispatcher = WebhookDispatcher(factory, settings)
        dispatcher.run_once()
        dispatcher.start()
        committed: dict[int, float] = {}
        for n in range(cases):
            with factory() as session, session.begin():
                case_id = seed_case(session, number=20_000 + n, received_at=datetime.now(UTC)).id
            committed[case_id] = time.monotonic()
            time.sleep(0.05)
        deadline = time.monotonic() + 60
        while len(got) < cases and time.monotonic() < deadline:
            time.sleep(0.05)
        dispatcher.stop()
        return sorted(got[c] - committed[c] for c in committed if c in got)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--receiver-ms", type=float, default=20.0)
    parser.add_argument("--write", action="store_true", help="rewrite ## Webhooks of RESULTS.md")
    args = parser.parse_args()
    delay = args.receiver_ms / 1000
    rates = {c: throughput(args.cases, c, delay) for c in (1, 4)}
    waits = latency(min(args.cases, 100), delay)
    p95 = waits[int(0.95 * (len(waits) - 1))]
    load = os.getloadavg()[0]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            SECTION,
            "",
            f"`bench/bench_webhooks.py` (--write), {stamp}. Machine: {os.cpu_count()} CPUs "
            f"({platform.machine()}), a 2-core VM shared with other engineers' jobs (load "
            f"{load:.1f} at the end). SQLite, a loopback receiver answering after "
            f"{args.receiver_ms:.0f} ms; every call signed (HMAC-SHA256), every attempt logged.",
            "",
            "| measure | value |",
            "|---|---|",
            f"| deliveries/s, 1 sender ({args.cases} cases committed at once) | {rates[1]:.0f} |",
            f"| deliveries/s, 4 senders (same run) | {rates[4]:.0f} |",
            f"| ratio 4 / 1 | {rates[4] / rates[1]:.1f}x |",
            f"| commit to receipt, median (poll 0.5 s, {len(waits)} cases 50 ms apart) "
            f"| {statistics.median(waits) * 1000:.0f} ms |",
            f"| commit to receipt, p95 | {p95 * 1000:.0f} ms |",
            "",
            "The wait from commit to receipt is mostly the poll interval (the outbox is read "
            "after the commit, never from inside it), so it averages about half of "
            "`webhooks.poll_interval_s` plus the receiver's time.",
            "",
        ]
    )
    sys.stdout.write(text)
    if args.write:
        write_section(text, heading=SECTION)


if __name__ == "__main__":
    main()
