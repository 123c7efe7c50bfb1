"""Fixtures shared by the whole suite (real broker, real PostgreSQL, shared data)."""

from tests.support.services import mqtt_broker, postgres_url, shared_data

__all__ = ["mqtt_broker", "postgres_url", "shared_data"]
