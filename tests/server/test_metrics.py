"""``GET /metrics`` scraped over HTTP from a running server, behind login or token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.events import EvidenceKind
from server import auth
from server.core.config import SettingsError, load_settings
from server.core.db import utcnow
from server.ingest import IngestContext, dispatch
from server.tables import UserRole
from tests.server import builders as b
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.integration

TOKEN = "metrics-token-" + "7" * 32
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setenv("CIVICWATCH_METRICS_TOKEN", TOKEN)
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'cases.db'}",
        evidence_dir=tmp_path / "evidence",
        dead_letter_dir=tmp_path / "dead",
        mqtt_enabled=False,
        auth_enabled=True,
    )
    with LiveServer(settings) as live:
        with live.state.session_factory() as session, session.begin():
            auth.create_user(
                session,
                username="olga",
                password="quiet-harbor-41-metrics",
                role=UserRole.OPERATOR,
                now=utcnow(),
            )
        yield live


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(server: LiveServer, headers: dict[str, str]) -> Samples:
    response = httpx.get(f"{server.url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def _ingest_event(server: LiveServer, seconds_ago: float) -> None:
    state = server.state
    item = b.item(b.jpeg(3), EvidenceKind.FRAME)
    sent = utcnow() - timedelta(seconds=seconds_ago)
    event = b.event(first_seen=sent, last_seen=sent, sent_at=sent, evidence=[item.ref])
    for topic, payload, content_type in (
        (b.evidence_topic(item), item.data, "image/jpeg"),
        (b.event_topic(event), event.to_json(), "application/json"),
        ("civicwatch/v1/edges/edge-1/bogus/x", b"{}", "application/json"),
    ):
        dispatch(
            state.session_factory,
            topic,
            payload,
            b.props(content_type),
            context=IngestContext(store=state.store, limits=b.UNCHAINED),
            metrics=state.metrics,
            now=utcnow(),
        )


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
)
def test_metrics_need_a_login_or_the_token(server: LiveServer, headers: dict[str, str]) -> None:
    response = httpx.get(f"{server.url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 401, response.text
    assert "civicwatch_" not in response.text


def test_values_move_after_an_event(server: LiveServer) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    before = scrape(server, bearer)
    accepted_event = (
        "civicwatch_ingest_messages_total",
        (("code", "event"), ("kind", "events"), ("outcome", "accepted")),
    )
    assert accepted_event not in before
    assert before[("civicwatch_ingest_latency_seconds_count", ())] == 0
    assert before[("civicwatch_quarantine_waiting", ())] == 0
    assert before[("civicwatch_dead_letters", ())] == 0
    assert before[("civicwatch_mqtt_connected", ())] == 0
    _ingest_event(server, seconds_ago=2.0)
    login = httpx.post(
        f"{server.url}/api/v1/auth/login",
        json={"username": "olga", "password": "quiet-harbor-41-metrics"},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    after = scrape(server, {"Authorization": f"Bearer {login.json()['token']}"})
    assert after[accepted_event] == 1
    evidence = (("code", "evidence"), ("kind", "evidence"), ("outcome", "accepted"))
    assert after[("civicwatch_ingest_messages_total", evidence)] == 1
    bad = (("code", "bad_topic"), ("kind", "unknown"), ("outcome", "rejected"))
    assert after[("civicwatch_ingest_messages_total", bad)] == 1
    assert after[("civicwatch_ingest_latency_seconds_count", ())] == 1
    assert 2.0 <= after[("civicwatch_ingest_latency_seconds_sum", ())] < 60.0
    assert after[("civicwatch_ingest_latency_seconds_bucket", (("le", "1.0"),))] == 0
    assert after[("civicwatch_ingest_latency_seconds_bucket", (("le", "2.5"),))] == 1


def test_metrics_token_only_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(f"metrics_token: {TOKEN}\n")
    with pytest.raises(SettingsError, match="only come from the environment") as caught:
        load_settings(config)
    assert TOKEN not in str(caught.value)
