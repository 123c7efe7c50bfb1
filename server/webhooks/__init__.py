"""Signed webhooks to the city's case system: subscriptions, a transactional outbox, delivery.

One module a job:

- :mod:`.tables`: subscriptions, cursors, events, deliveries, attempts;
- :mod:`.signing`: the HMAC-SHA256 signature and the receiver's check (pure);
- :mod:`.policy`: exponential back-off with jitter and the dead-letter limit (pure);
- :mod:`.payloads`: the JSON body (pydantic) and its exact bytes;
- :mod:`.outbox`: events derived from committed rows, fanned out into deliveries;
- :mod:`.delivery`: claims under a lease, attempts, dead letters, retries;
- :mod:`.sender`: one signed HTTP POST;
- :mod:`.dispatcher`: the thread that runs rounds in the server;
- :mod:`.subscriptions` and :mod:`.schemas`: what the admin API manages and returns;
- :mod:`.cli`: ``civicwatch webhooks add|list|remove``.

See ``docs/handoff.md`` for how a receiver verifies a call.
"""
