"""A last-resort MQTT broker in Python (amqtt) for the demo, where Mosquitto is unavailable.

amqtt speaks MQTT 3.1.1 only, so clients connect with protocol 3.1.1 to it. Run as
``python -m civicwatch.embedded_broker --host 127.0.0.1 --port 1883``. It has no accounts
(anonymous clients), so it refuses to listen anywhere but on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from civicwatch.services import is_loopback

logger = logging.getLogger(__name__)


async def _serve(host: str, port: int) -> None:
    from amqtt.broker import Broker

    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()
    logger.info("embedded amqtt broker listening on %s:%d (MQTT 3.1.1)", host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await broker.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    if not is_loopback(args.host):
        parser.error(f"--host {args.host}: anonymous clients only on loopback (127.0.0.1)")
    logger.warning("embedded broker: anonymous clients allowed, loopback only (demo)")
    asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
