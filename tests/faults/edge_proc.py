"""A minimal edge process for the SIGKILL fault test: outbox, evidence chain, publisher.

``python -m tests.faults.edge_proc --dir D --edge-id E --key K --host H --port P
--produce N [--rate R]`` enqueues N events (two evidence items each, signed into the
chain) at R per second (0: at once), printing ``produced <i>`` after each commit, then
keeps publishing until SIGTERM (clean stop) or SIGKILL (the fault).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from edge.chain import EdgeChain, EdgeKey
from edge.mqtt import MqttConfig, Publisher
from edge.outbox import Outbox
from tests.faults.harness import event_messages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--edge-id", required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--produce", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    outbox = Outbox(args.dir / "outbox.db")
    chain = EdgeChain(outbox, EdgeKey.load(args.key), edge_id=args.edge_id)
    publisher = Publisher(
        edge_id=args.edge_id,
        config=MqttConfig(host=args.host, port=args.port, reconnect_max_s=1),
        outbox=outbox,
    )
    publisher.start()
    start_seq = chain.head().seq
    for i in range(1, args.produce + 1):
        event, messages = event_messages(args.edge_id, f"{args.edge_id}-{start_seq}-{i}")
        chain.enqueue(messages, [event])
        sys.stdout.write(f"produced {i}\n")
        sys.stdout.flush()
        if args.rate > 0 and stop.wait(1 / args.rate):
            break
    sys.stdout.write("done\n")
    sys.stdout.flush()
    stop.wait()
    publisher.stop()
    chain.close()
    outbox.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
