"""What the camera tools run inside the server: the control publisher and the alarm loop."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from server.cameras.alarm_store import check_alarms
from server.cameras.health_store import trim_health
from server.control_publisher import ControlPublisher
from server.core.config import Settings
from server.core.db import utcnow

logger = logging.getLogger(__name__)


class CameraRuntime:
    """The control publisher (when MQTT is on) and the periodic alarm check.

    Args:
        settings: The server's settings (``mqtt``, ``cameras``).
        session_factory: Where cameras, health and alarms are.
    """

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session]) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self.publisher: ControlPublisher | None = (
            ControlPublisher(settings.mqtt, session_factory=session_factory)
            if settings.mqtt_enabled
            else None
        )

    def start(self) -> None:
        """Connect the publisher (in the background; blocking set-up only)."""
        if self.publisher is not None:
            self.publisher.start()

    def stop(self) -> None:
        if self.publisher is not None:
            self.publisher.stop()

    def check_once(self) -> int:
        """Judge every camera's health now and bound the health history; alarms changed."""
        cameras = self._settings.cameras
        with self._session_factory() as session, session.begin():
            changed = check_alarms(session, now=utcnow(), limits=cameras.thresholds())
            trim_health(session, keep=cameras.health_history)
        return changed

    async def alarm_loop(self) -> None:
        """:meth:`check_once` every ``cameras.alarm_interval_s`` until cancelled."""
        interval = self._settings.cameras.alarm_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.check_once)
            except IntegrityError:
                logger.info("camera alarm raised by another server replica meanwhile")
            except SQLAlchemyError:
                logger.exception("camera alarm check failed; retrying in %.0f s", interval)
