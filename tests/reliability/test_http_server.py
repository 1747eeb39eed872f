"""The HTTP server under idle, slow, rude and odd clients: bounded threads, no tracebacks, 4xx.

Each test runs the real ``TelemetryServer`` on 127.0.0.1 with a registry of its own and talks to
it over real sockets, as a scanner, a hung load balancer or an impatient scraper would.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Gauge

from kaizen_otel import server as server_module
from kaizen_otel.server import MAX_CONNECTIONS, TelemetryServer

PATHS = ["/metrics", "/healthz", "/readyz", "/no-such-page", "/metrics?name[]=x", "/%00/../etc/passwd"]


@pytest.fixture(scope="module")
def registry() -> CollectorRegistry:
    """A /metrics body of ~1.3 MB: sending it takes many writes, so a client can hang up mid-way."""
    registry = CollectorRegistry()
    gauge = Gauge("big_family", "Many series.", ["name"], registry=registry)
    for i in range(20_000):
        gauge.labels(name=f"series-{i:05d}-{'x' * 40}").set(i)
    return registry


@pytest.fixture
def server(registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch) -> Iterator[TelemetryServer]:
    monkeypatch.setattr(server_module._Handler, "timeout", 1.0)
    started = TelemetryServer("127.0.0.1", 0, registry=registry)
    try:
        yield started
    finally:
        started.stop()


def _request(
    server: TelemetryServer, method: str, path: str, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _server_threads(server: TelemetryServer) -> int:
    """Threads serving a connection of this server (other tests' servers may still have some)."""
    count = 0
    for thread in threading.enumerate():
        target = getattr(thread, "_target", None)
        if getattr(target, "__self__", None) is server._httpd and target.__name__ == "process_request_thread":
            count += 1
    return count


def _wait(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_thousand_idle_sockets_pin_at_most_the_connection_limit_of_threads(
    server: TelemetryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module._Handler, "timeout", 3.0)
    peak = 0
    sampling = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not sampling.is_set():
            peak = max(peak, _server_threads(server))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    sockets = [socket.create_connection((server.host, server.port)) for _ in range(1000)]
    try:
        time.sleep(1.0)  # the accept loop takes them all in
        sampling.set()
        sampler.join()
        assert 0 < peak <= MAX_CONNECTIONS
        # The read timeout frees every slot; the server answers again while the sockets stay open.
        assert _wait(lambda: _server_threads(server) == 0, 6.0), _server_threads(server)
        assert _request(server, "GET", "/healthz")[0] == 200
    finally:
        sampling.set()
        for sock in sockets:
            sock.close()


def test_clients_that_hang_up_mid_response_print_no_traceback(
    server: TelemetryServer, capfd: pytest.CaptureFixture[str]
) -> None:
    def rude_client() -> None:
        sock = socket.create_connection((server.host, server.port))
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(1024)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, not FIN
        sock.close()

    clients = [threading.Thread(target=rude_client) for _ in range(20)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    assert _wait(lambda: _server_threads(server) == 0, 5.0)
    assert _request(server, "GET", "/healthz")[0] == 200
    captured = capfd.readouterr()  # other tests' exporter threads may still write here
    assert "Traceback" not in captured.err
    assert "kaizen_otel" not in captured.err


@pytest.mark.parametrize("path", PATHS)
def test_head_answers_like_get_without_a_body_on_every_path(server: TelemetryServer, path: str) -> None:
    get_status, get_headers, get_body = _request(server, "GET", path)
    head_status, head_headers, head_body = _request(server, "HEAD", path)
    assert head_status == get_status != 501
    assert head_headers["Content-Length"] == get_headers["Content-Length"] == str(len(get_body))
    assert head_headers["Content-Type"] == get_headers["Content-Type"]
    assert head_body == b""


def _raw(server: TelemetryServer, payload: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", b"431"),
        (b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n", b"431"),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET /healthz HTTP/9.9\r\n\r\n", b"505"),
        (b"GET /\x00\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", b"404"),
        (b"BREW /healthz HTTP/1.1\r\n\r\n", b"501"),
    ],
    ids=["huge-header", "many-headers", "huge-path", "garbage", "bad-version", "binary-path", "odd-method"],
)
def test_hostile_requests_get_a_4xx_or_5xx_and_the_server_keeps_serving(
    server: TelemetryServer, payload: bytes, status: bytes, capfd: pytest.CaptureFixture[str]
) -> None:
    answer = _raw(server, payload)
    # A request line without a version gets an HTTP/0.9-style answer: the body alone.
    assert answer.startswith(b"HTTP/1.1 " + status) or b"Error code: " + status in answer, answer[:200]
    assert _request(server, "GET", "/healthz")[0] == 200
    assert "Traceback" not in capfd.readouterr().err
