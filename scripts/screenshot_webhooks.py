"""The screenshots' webhooks (:mod:`screenshots`): two receivers the admin subscribes.

Both are real HTTP servers on loopback (:func:`tests.server.webhooks.receiver.receiver`): the
city's 12345 hotline takes every delivery (204); the district's old case system answers 503,
so its deliveries go to the dead letters after :data:`WEBHOOK_SETTINGS`' attempts. The
server's own dispatcher sends them while the cases are seeded and walked;
:func:`wait_for_deliveries` waits until none is pending.
"""

from __future__ import annotations

import time

from screenshot_cameras import ADMIN, api_client

WEBHOOK_SETTINGS = {
    "poll_interval_s": 0.3,
    "max_attempts": 2,
    "backoff_base_s": 0.3,
    "backoff_max_s": 1.0,
}
"""Quick rounds and few retries, so that the dead letters are there in seconds."""


def subscribe(url: str, hotline_url: str, legacy_url: str) -> None:
    """The two subscriptions, added by the admin over the API."""
    bodies = (
        {
            "name": "12345 市民热线",
            "url": hotline_url,
            "kinds": ["created", "closed", "camera_alarm"],
        },
        {
            "name": "黄浦区旧案件系统",
            "url": legacy_url,
            "kinds": ["confirmed", "dispatched"],
            "unit_id": "sh-huangpu",
        },
    )
    with api_client(url, ADMIN) as admin:
        for body in bodies:
            reply = admin.post("/webhooks", json=body)
            if reply.status_code != 201:
                raise RuntimeError(f"subscribing {body['name']}: {reply.text}")


def wait_for_deliveries(url: str, timeout_s: float = 60.0) -> None:
    """Until some deliveries are dead and none is pending."""
    deadline = time.monotonic() + timeout_s
    with api_client(url, ADMIN) as admin:
        while time.monotonic() < deadline:
            pending = admin.get("/webhooks/deliveries", params={"status": "pending"}).json()
            dead = admin.get("/webhooks/deliveries", params={"status": "dead"}).json()
            if pending["total"] == 0 and dead["total"] > 0:
                return
            time.sleep(0.3)
    raise RuntimeError(f"webhook deliveries still pending after {timeout_s:.0f} s")
