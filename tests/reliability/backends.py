"""Broken OTLP backends on 127.0.0.1: a port that refuses, one that never answers, one that fails.

Each is what a collector looks like to an application during an outage: the process is gone
(connection refused), the host or a proxy hangs (TCP accepted, no reply ever), or the collector
is up but rejects every request with an HTTP status.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.testbed.servers import HOST, free_port


def refusing_endpoint() -> str:
    """An endpoint where nothing listens: every connection is refused."""
    return f"http://{HOST}:{free_port()}"


@contextmanager
def black_hole() -> Iterator[str]:
    """An endpoint that accepts TCP connections and never reads or answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    listener.listen(128)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, name="black-hole", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()


@contextmanager
def failing_http(status: int) -> Iterator[str]:
    """An HTTP endpoint answering every request with ``status`` (an OTLP/HTTP collector in trouble)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=f"http-{status}", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)
