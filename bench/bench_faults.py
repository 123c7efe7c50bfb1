"""Benchmark: faults against a real Mosquitto and database; writes the "Faults" section.

Runs the scenarios of ``tests/faults/harness.py`` with their long settings (the tests
use short ones):

* Mosquitto stopped for ``--outage`` seconds (60 by default) while two edges keep
  producing; server ingest in-process on PostgreSQL when reachable, else SQLite;
* the server (``python -m civicwatch server``) killed with SIGKILL mid-ingest of a burst,
  then restarted;
* an edge process killed with SIGKILL with a pending outbox (twice), then restarted;
* a burst of ``--burst`` QoS 1 messages to one subscriber;
* one changed byte in a stored evidence file, chain record and event message;
* the hostile-payload test (hypothesis, over 10,000 payloads), its outcome counts.

Each row: events sent (and MQTT messages: two evidence items, the event and its chain
record per event), delivered, lost, duplicated (stored twice), redeliveries the server
recognised and absorbed, and whether ``civicwatch evidence verify --edge`` passed.

Usage::

    .venv/bin/python bench/bench_faults.py            # full run, about 6 minutes
    .venv/bin/python bench/bench_faults.py --outage 20 --no-write

This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from results_file import RESULTS, write_section  # noqa: E402

from tests.faults import harness  # noqa: E402

logger = logging.getLogger("bench_faults")

HEADER = (
    "| fault | events sent | MQTT messages | delivered | lost | duplicated | "
    "redeliveries absorbed | chain verifies | seconds | notes |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def _postgres_url() -> str | None:
    """A fresh PostgreSQL database for the outage run, or None."""
    try:
        import psycopg

        from civicwatch.services import ensure_postgres
    except ImportError:
        return None
    if not ensure_postgres():
        return None
    name = f"civicwatch_bench_{os.getpid()}"
    admin = os.environ.get(
        "CIVICWATCH_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        return None
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def _drop_database(url: str | None) -> None:
    if url is None:
        return
    import psycopg

    admin = os.environ.get(
        "CIVICWATCH_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _hostile() -> str:
    """Run the hostile-payload test and return its outcome line."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:logging",
            "tests/faults/test_hostile_payloads.py",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    line = next(
        (ln for ln in result.stdout.splitlines() if "hostile payloads:" in ln),
        "no outcome line",
    )
    verdict = "passed" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
    return f"{line.strip()} — test {verdict}"


def _section(
    rows: list[harness.FaultFigures],
    tamper: list[harness.TamperResult],
    hostile: str,
    args: argparse.Namespace,
    db_kind: str,
) -> str:
    load = os.getloadavg()
    lines = [
        "## Faults",
        "",
        f"`bench/bench_faults.py` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC). Real Mosquitto "
        "(civicwatch's broker configuration: persistence, `max_queued_messages 100000`), "
        "real outbox, evidence chain and publisher per edge, the real server ingest "
        "(persistent MQTT session, PUBACK only after commit). Per event the edge sends 4 "
        "QoS 1 messages: two evidence JPEGs, the event, its signed chain record. "
        "'delivered' counts distinct events the server stored with their evidence and a "
        "verified chain record; 'duplicated' counts events stored twice (cases or event "
        "messages); 'redeliveries absorbed' counts messages the server received again "
        "and recognised as already stored (for the killed server: since its restart); "
        "'chain verifies' is `civicwatch evidence verify --edge` for every edge, with no "
        "open chain issue.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical "
        f"CPUs, load average at the end {load[0]:.2f}, {load[1]:.2f}; Python "
        f"{platform.python_version()}; outage run on {db_kind}, the others on SQLite.",
        "",
        HEADER,
        *[row.markdown_row() for row in rows],
        "",
        "One changed byte after delivery (each on an otherwise intact store), `verify --edge`:",
        "",
        "| changed | named | finding |",
        "|---|---|---|",
        *[
            f"| {t.item} | {'yes' if t.named else 'NO'} | {t.finding.replace('|', '/')} |"
            for t in tamper
        ],
        "",
        f"Hostile MQTT payloads at the ingest handlers (hypothesis): {hostile}.",
        "",
        f"The test suite runs the same scenarios shorter (`tests/faults/`, outage "
        f"{8} s); this run used an outage of {args.outage:.0f} s and a burst of "
        f"{args.burst} messages.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage", type=float, default=60.0, help="broker outage, seconds")
    parser.add_argument("--burst", type=int, default=10_000, help="messages in the burst")
    parser.add_argument("--kill-events", type=int, default=1000, help="events of the server kill")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit RESULTS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rows: list[harness.FaultFigures] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="civicwatch-faults-") as tmp:
        base = Path(tmp)
        pg = _postgres_url()
        db_kind = "PostgreSQL" if pg else "SQLite"

        def outage(d: Path) -> harness.FaultFigures:
            return harness.run_broker_outage(d, db_url=pg, outage_s=args.outage, timeout_s=180)

        def server(d: Path) -> harness.FaultFigures:
            return harness.run_server_kill(d, events=args.kill_events, timeout_s=300)

        def edge(d: Path) -> harness.FaultFigures:
            return harness.run_edge_kill(d, offline_events=100, live_events=300, timeout_s=180)

        def burst(d: Path) -> harness.FaultFigures:
            return harness.run_burst(d, messages=args.burst, timeout_s=300)

        scenarios: list[tuple[str, Callable[[Path], harness.FaultFigures]]] = [
            ("outage", outage),
            ("server", server),
            ("edge", edge),
            ("burst", burst),
        ]
        for name, run in scenarios:
            workdir = base / name
            workdir.mkdir()
            figures = run(workdir)
            rows.append(figures)
            sys.stderr.write(f"{figures.markdown_row()}\n")
        _drop_database(pg)
        tamper_dir = base / "tamper"
        tamper_dir.mkdir()
        tamper = harness.run_tamper(tamper_dir)
    hostile = _hostile()
    section = _section(rows, tamper, hostile, args, db_kind)
    sys.stdout.write(section)
    if not args.no_write:
        write_section(section, heading="## Faults")
        sys.stderr.write(f"wrote the Faults section of {RESULTS}\n")
    sys.stderr.write(f"total {time.monotonic() - started:.0f} s\n")
    failed = [r for r in rows if r.lost or r.duplicated or not r.chain_verified]
    return 1 if failed or not all(t.named for t in tamper) else 0


if __name__ == "__main__":
    raise SystemExit(main())
