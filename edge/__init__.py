"""civicwatch edge worker: sources, detectors, tracking, rules, evidence and MQTT outbox."""
