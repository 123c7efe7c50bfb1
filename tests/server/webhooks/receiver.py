"""A real HTTP receiver on loopback for the webhook tests (``http.server`` in a thread)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One call as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every POST; answers with ``codes`` in turn, then ``default``."""

    url: str
    codes: list[int] = field(default_factory=list)
    default: int = 200
    calls: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_code(self) -> int:
        with self.lock:
            return self.codes.pop(0) if self.codes else self.default


@contextmanager
def receiver(codes: list[int] | None = None, default: int = 200) -> Iterator[Receiver]:
    """A receiver at ``http://127.0.0.1:<port>/hook`` for the ``with`` block."""
    state: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            target = state[0]
            with target.lock:
                target.calls.append(
                    Received(path=self.path, headers=dict(self.headers.items()), body=body)
                )
            code = target.next_code()
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(
        Receiver(
            url=f"http://127.0.0.1:{server.server_address[1]}/hook",
            codes=list(codes or []),
            default=default,
        )
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
