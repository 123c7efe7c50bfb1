"""Fault tests against a real Mosquitto and a real database (each well under 60 s).

The outages here are short (8 s); ``bench/bench_faults.py`` runs the 60 s outage and
records the figures in ``bench/RESULTS.md``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from civicwatch.services import find_mosquitto
from tests.faults import harness
from tests.server.conftest import _reset_postgres

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed"),
]


def _assert_nothing_lost(figures: harness.FaultFigures) -> None:
    assert figures.events_sent > 0
    assert figures.lost == 0, figures
    assert figures.duplicated == 0, figures
    assert figures.chain_verified, "\n".join(figures.findings)


@pytest.mark.timeout(120)
def test_broker_stopped_while_edges_produce(tmp_path: Path, postgres_url: str) -> None:
    _reset_postgres(postgres_url)  # the session's database is shared with other tests
    figures = harness.run_broker_outage(tmp_path, db_url=postgres_url, outage_s=8.0)
    _assert_nothing_lost(figures)
    assert figures.events_sent >= 2 * 10 * 10  # two edges kept producing through the outage


@pytest.mark.timeout(120)
def test_server_killed_mid_ingest_loses_and_doubles_nothing(tmp_path: Path) -> None:
    figures = harness.run_server_kill(tmp_path, events=250, kill_at_fraction=0.3)
    _assert_nothing_lost(figures)
    assert "killed with" in figures.notes


@pytest.mark.timeout(120)
def test_edge_killed_with_pending_outbox_delivers_on_restart(tmp_path: Path) -> None:
    figures = harness.run_edge_kill(tmp_path, offline_events=40, live_events=120)
    _assert_nothing_lost(figures)
    assert figures.pending_at_kill[0] == 40 * harness.MESSAGES_PER_EVENT


@pytest.mark.timeout(120)
def test_a_burst_of_qos1_messages_all_arrive(tmp_path: Path) -> None:
    figures = harness.run_burst(tmp_path, messages=2400)
    _assert_nothing_lost(figures)
    assert figures.events_sent * harness.MESSAGES_PER_EVENT >= 2000


@pytest.mark.timeout(120)
def test_one_changed_byte_after_delivery_is_named(tmp_path: Path) -> None:
    results = harness.run_tamper(tmp_path, events=10)
    assert len(results) == 3
    for result in results:
        assert result.named, f"{result.item}: {result.finding}"
