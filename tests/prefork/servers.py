"""Pre-fork servers for real (gunicorn, uvicorn workers) serving one small application.

The application counts its requests with an OTel counter; ``PROMETHEUS_MULTIPROC_DIR`` makes every
worker write its metrics to a shared directory and whichever process holds the port serves the
merge. The same module is a WSGI app (``app``) for gunicorn and an ASGI app (``asgi_app``) for
uvicorn.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.testbed.servers import free_port

BIN = Path(sys.executable).parent

APP = """
import os, time
from opentelemetry import metrics
if os.environ.get("APP_CONFIGURE") == "1":
    import kaizen_otel
    kaizen_otel.configure()
meter = metrics.get_meter("shop")
requests_total = meter.create_counter("shop.requests", unit="{request}")
latency = meter.create_histogram("shop.latency", unit="s")

def app(environ, start_response):
    time.sleep(0.02)
    requests_total.add(1, {"route": environ["PATH_INFO"]})
    latency.record(0.02, {"route": environ["PATH_INFO"]})
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


async def asgi_app(scope, receive, send):
    import asyncio

    await asyncio.sleep(0.02)
    requests_total.add(1, {"route": scope["path"]})
    latency.record(0.02, {"route": scope["path"]})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})
"""
POST_FORK = """
def post_fork(server, worker):
    import kaizen_otel
    handle = kaizen_otel.configure()
    server.log.info("worker configured: %r", handle)
"""


def poll(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Wait for ``check`` to return something true (generous: the test machine may be busy)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class PreforkServer:
    """``gunicorn -w 3`` or ``uvicorn --workers 3`` on free ports, started and answering."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        server: str = "gunicorn",
        instrument: bool,
        env: dict[str, str],
        options: tuple[str, ...] = (),
        multiproc: bool = True,
    ) -> None:
        (tmp_path / "app.py").write_text(APP)
        (tmp_path / "gunicorn_conf.py").write_text(POST_FORK)
        self.multiproc = tmp_path / "multiproc"
        self.multiproc.mkdir()
        self.port = free_port()
        self.metrics_port = free_port()
        environment = {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(tmp_path),
            "KAIZEN_OTEL_PROMETHEUS_PORT": str(self.metrics_port),
            "OTEL_SERVICE_NAME": f"shop-{self.port}",
            "KAIZEN_OTEL_LOGS_EXPORTER": "none",
            **env,
        }
        if multiproc:
            environment["PROMETHEUS_MULTIPROC_DIR"] = str(self.multiproc)
        if server == "gunicorn":
            command = [str(BIN / "gunicorn"), "-w", "3", "-b", f"127.0.0.1:{self.port}", *options, "app:app"]
        else:
            command = [str(BIN / "uvicorn"), "--workers", "3", "--port", str(self.port), "--lifespan", "off"]
            command += [*options, "app:asgi_app"]
        if instrument:
            command = [str(BIN / "opentelemetry-instrument"), *command]
            environment |= {"OTEL_PYTHON_DISTRO": "kaizen_otel", "OTEL_PYTHON_CONFIGURATOR": "kaizen_otel"}
        else:
            environment["APP_CONFIGURE"] = "1"
        self.log = open(tmp_path / f"{server}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=tmp_path, env=environment, stdout=self.log, stderr=self.log
        )
        self.log_path = tmp_path / f"{server}.log"
        self.sent = 0
        poll(lambda: self.get("/ready"), f"{server} to answer")
        poll(lambda: self.scrape() is not None, "/metrics to answer")

    def get(self, path: str) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
            return int(response.read())

    def requests(self, count: int) -> set[int]:
        """``count`` requests to /work, 6 at a time so they spread over the workers; their pids."""
        with ThreadPoolExecutor(max_workers=6) as pool:
            pids = set(pool.map(lambda _: self.get("/work"), range(count)))
        self.sent += count
        return pids

    def scrape(self) -> dict[str, float]:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        values: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                route = sample.labels.get("route")
                if route == "/work" and "le" not in sample.labels:
                    values[sample.name] = sample.value
        return values

    def counted(self, expected: float) -> dict[str, float]:
        """The scrape once the workers' files show ``expected`` requests in both the request counter
        and the latency histogram (a scrape waits at most a second for a write in progress, then
        reads without it: under load it could show one family's new value beside another's old
        one; test_multiproc.py checks that it does not when the lock is had)."""

        def both() -> dict[str, float] | None:
            found = self.scrape()
            if found.get("shop_requests_total") == expected == found.get("shop_latency_seconds_count"):
                return found
            return None

        return poll(both, f"shop_requests_total == shop_latency_seconds_count == {expected}")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        return self.log_path.read_text(errors="replace")
