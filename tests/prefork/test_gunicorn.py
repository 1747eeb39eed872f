"""``gunicorn -w 3`` behind one ``/metrics``: the sum over workers, and no counter going backwards.

Real gunicorn (dev extra), real worker processes, real ``kill -9``. The application counts its
requests with an OTel counter; ``PROMETHEUS_MULTIPROC_DIR`` makes every worker write its metrics
to a shared directory and whichever process holds the port serves the merge.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.testbed.servers import Rotel, free_port

pytestmark = pytest.mark.integration

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
"""
POST_FORK = """
def post_fork(server, worker):
    import kaizen_otel
    handle = kaizen_otel.configure()
    server.log.info("worker configured: %r", handle)
"""


def _poll(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
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


class Gunicorn:
    def __init__(
        self,
        tmp_path: Path,
        *,
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
        command = [str(BIN / "gunicorn"), "-w", "3", "-b", f"127.0.0.1:{self.port}", *options, "app:app"]
        if instrument:
            command = [str(BIN / "opentelemetry-instrument"), *command]
            environment |= {"OTEL_PYTHON_DISTRO": "kaizen_otel", "OTEL_PYTHON_CONFIGURATOR": "kaizen_otel"}
        else:
            environment["APP_CONFIGURE"] = "1"
        self.log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=tmp_path, env=environment, stdout=self.log, stderr=self.log
        )
        self.log_path = tmp_path / "gunicorn.log"
        self.sent = 0
        _poll(lambda: self.get("/ready"), "gunicorn to answer")
        _poll(lambda: self.scrape() is not None, "/metrics to answer")

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
        """The scrape once the workers' files show ``expected`` requests (they write every second)."""
        return _poll(
            lambda: (found := self.scrape()).get("shop_requests_total") == expected and found,
            f"shop_requests_total == {expected}",
        )

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        return self.log_path.read_text(errors="replace")


SETUPS = {
    "configure() in each worker": {"instrument": False},
    "opentelemetry-instrument gunicorn": {"instrument": True},
    "--preload, configure() in the master and in post_fork": {
        "instrument": False,
        "options": ("--preload", "-c", "gunicorn_conf.py"),
    },
}


@pytest.fixture(params=list(SETUPS))
def gunicorn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gunicorn]:
    server = Gunicorn(tmp_path, env={}, **SETUPS[request.param])
    try:
        yield server
    finally:
        log = server.stop()
        assert "Traceback" not in log, log


def test_one_metrics_port_shows_the_sum_over_all_workers(gunicorn: Gunicorn) -> None:
    pids = gunicorn.requests(90)
    assert len(pids) >= 2, "the requests should have spread over several workers"
    found = gunicorn.counted(90)
    assert found["shop_latency_seconds_count"] == 90


def test_a_worker_killed_and_replaced_leaves_no_counter_going_down(gunicorn: Gunicorn) -> None:
    pids = gunicorn.requests(60)
    gunicorn.counted(60)
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)
    # a scrape routed to the dying worker's socket is reset; the next one is answered by another
    after_kill = _poll(gunicorn.scrape, "a scrape after the kill")
    assert after_kill["shop_requests_total"] == 60  # the dead worker's counts stay
    replaced = _poll(lambda: (gunicorn.requests(12) - pids) or None, "a replacement worker to answer")
    assert victim not in replaced
    after = gunicorn.counted(gunicorn.sent)
    assert after["shop_latency_seconds_count"] == gunicorn.sent > 60


def test_under_opentelemetry_instrument_each_worker_has_its_own_instance_id_over_otlp(
    tmp_path: Path, rotel: Rotel
) -> None:
    env = {**rotel.otlp_env(), "OTEL_METRIC_EXPORT_INTERVAL": "300"}
    server = Gunicorn(tmp_path, instrument=True, env=env)
    try:
        pids = server.requests(60)
        service = f"shop-{server.port}"

        def all_arrived() -> dict[str, float] | None:
            totals = _latest_totals(rotel, service)
            return totals if sum(totals.values()) == 60 else None

        totals = _poll(all_arrived, "every worker's latest OTLP total to add up to 60")
        assert len(totals) == len(pids) >= 2  # one service.instance.id per worker that served
        server.counted(60)
    finally:
        log = server.stop()
    assert "Traceback" not in log, log


def _latest_totals(rotel: Rotel, service: str) -> dict[str, float]:
    latest: dict[str, tuple[int, float]] = {}
    for point in rotel.received("metric", service_name=service):
        if point["name"] == "shop.requests":
            instance = point["resource"]["service.instance.id"]
            if point["time_unix_nano"] >= latest.get(instance, (0, 0.0))[0]:
                latest[instance] = (point["time_unix_nano"], point["value"])
    return {instance: value for instance, (_, value) in latest.items()}


def test_a_warning_says_when_metrics_would_show_only_the_master(tmp_path: Path) -> None:
    console = {"KAIZEN_OTEL_LOGS_EXPORTER": "console"}
    server = Gunicorn(tmp_path, instrument=False, env=console, options=("--preload",), multiproc=False)
    try:
        server.requests(12)
    finally:
        log = server.stop()
    assert log.count("that endpoint shows only the parent's metrics, not this worker's") == 3, log
    assert "PROMETHEUS_MULTIPROC_DIR" in log
