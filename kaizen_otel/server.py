"""The one HTTP server of a configured process: ``/metrics``, ``/healthz`` and ``/readyz``.

It binds the Prometheus host and port once, so a scraper, a liveness probe and a readiness probe
all talk to the same place. ``/metrics`` serves the whole prometheus-client registry: the OTel
metrics (through the Prometheus reader) and any metric the application registered with
prometheus-client itself.
"""

from __future__ import annotations

import errno
import gzip
import json
import logging
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

from kaizen_otel.exceptions import KaizenConfigError

_log = logging.getLogger("kaizen_otel.server")

#: ``() -> (ready, reasons)``: evaluated on every ``/readyz`` request.
ReadinessCheck = Callable[[], tuple[bool, list[str]]]


#: Connections served at once; more are answered 503 at once, so idle or slow clients cannot pin
#: a thread (and its stack) each.
MAX_CONNECTIONS = 32
#: Seconds a connection may stay silent (before a request, or between keep-alive requests).
READ_TIMEOUT = 10.0
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
)


class _Handler(BaseHTTPRequestHandler):
    server: _TelemetryHTTPServer
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT
    _head_only = False

    def do_HEAD(self) -> None:
        """The same status and headers as GET, without the body, on every path."""
        self._head_only = True
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._metrics()
        elif path == "/healthz":
            self._send(200, b"ok\n", "text/plain; charset=utf-8")
        elif path == "/readyz":
            ready, reasons = self.server.readiness()
            body = json.dumps({"ready": ready, "reasons": reasons}).encode() + b"\n"
            self._send(200 if ready else 503, body, "application/json")
        elif not self._live("GET"):
            self._send(404, b"not found: try /metrics, /healthz or /readyz\n", "text/plain")

    def do_POST(self) -> None:
        text = self.headers.get("Content-Length", "")
        length = int(text) if text.isdigit() else 0
        if length > 65536:
            self.close_connection = True
        elif length:
            self.rfile.read(length)  # unread, it would be parsed as the next request
        if not self._live("POST"):
            self._send(405, b"method not allowed\n", "text/plain")

    def _live(self, method: str) -> bool:
        """Answer a live-view route (``/ui``, ``/api/...``); False when the path is not one."""
        app = self.server.live
        if app is None:
            return False
        try:
            reply = app.handle(method, self.path, self.headers)
        except Exception:  # a bug in the page's API must not take the server down
            _log.exception("live view request %s failed", self.path)
            reply = (500, b"live view failed\n", "text/plain", {})
        if reply is None:
            return False
        status, body, content_type, headers = reply
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not self._head_only:
            self.wfile.write(body)
        return True

    def _metrics(self) -> None:
        encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
        try:
            body = encoder(self.server.registry)
        except Exception:  # a broken collector must not take the endpoint down
            _log.exception("collecting /metrics failed")
            self._send(500, b"metrics collection failed\n", "text/plain")
            return
        if "gzip" in self.headers.get("Accept-Encoding", "") and len(body) > 4096:
            self._send(200, gzip.compress(body, compresslevel=1), content_type, gzipped=True)
        else:
            self._send(200, body, content_type)

    def _send(self, status: int, body: bytes, content_type: str, gzipped: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        if not self._head_only:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request access lines: scrapes every few seconds would flood the logs."""


class _TelemetryHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    #: The live view's routes (``kaizen_otel.liveview.LiveApp``), or None when it is off.
    live: Any = None
    #: Listen backlog. socketserver's 5 makes the kernel drop SYNs in a burst of connections,
    #: and each dropped one costs its client a 1 s retransmission.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        registry: CollectorRegistry,
        readiness: ReadinessCheck,
        reuse_port: bool = False,
    ) -> None:
        self.registry = registry
        self.readiness = readiness
        self.reuse_port = reuse_port
        super().__init__(address, _Handler)

    def server_activate(self) -> None:
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().server_activate()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve in a thread of its own while a slot is free; otherwise answer 503 and close."""
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(0.1)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """No traceback on the application's stderr: a client that hangs up is not our error."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # reset, broken pipe, timeout: the client went away
            return
        _log.warning("kaizen_otel HTTP server: request from %s failed: %r", client_address[0], error)

    def server_bind(self) -> None:
        """Bind without ``HTTPServer``'s reverse DNS lookup of the host (``socket.getfqdn``).

        Nothing here uses ``server_name``, and that lookup costs milliseconds at every startup
        (seconds where DNS is slow or unreachable).
        """
        if self.reuse_port and hasattr(socket, "SO_REUSEPORT"):
            # pre-fork workers in multiprocess mode all bind the port; any of them serves the sum
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class TelemetryServer:
    """A started server; :meth:`stop` is idempotent."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        registry: CollectorRegistry = REGISTRY,
        readiness: ReadinessCheck | None = None,
        port_source: str = "default",
        host_source: str = "default",
        reuse_port: bool = False,
    ) -> None:
        try:
            self._httpd = _TelemetryHTTPServer(
                (host, port), registry, readiness or (lambda: (True, [])), reuse_port
            )
        except OSError as exc:
            if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
                allowed = f"a host name or address of this machine ({exc.strerror or exc})"
                raise KaizenConfigError("prometheus_host", host, allowed, host_source) from exc
            allowed = f"a port that is free on {host}"
            if exc.errno == errno.EADDRINUSE:
                allowed += (
                    f" (port {port} on {host} is already in use; 0 picks a free port; pre-fork "
                    "workers share one port with PROMETHEUS_MULTIPROC_DIR, see docs/operations.md)"
                )
            else:
                allowed += f" ({exc.strerror or exc})"
            raise KaizenConfigError("prometheus_port", port, allowed, port_source) from exc
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="kaizen-otel-http", daemon=True
        )
        self._thread.start()
        self._stopped = False

    @property
    def base_url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def metrics_url(self) -> str:
        return self.base_url + "/metrics"

    def serve_live(self, app: Any) -> None:
        """Answer the live view's routes (``/ui``, ``/api/...``) with ``app`` from now on."""
        self._httpd.live = app

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def release_after_fork(self) -> None:
        """In a forked child: close the inherited socket; the serving thread did not survive.

        The parent keeps serving on its own copy of the socket; the child must not pretend to
        serve (``metrics_url`` becomes None there).
        """
        self._stopped = True
        self._httpd.socket.close()


__all__ = ["ReadinessCheck", "TelemetryServer"]
