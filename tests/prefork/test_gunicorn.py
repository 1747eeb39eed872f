"""``gunicorn -w 3`` behind one ``/metrics``: the sum over workers, and no counter going backwards.

Real gunicorn (dev extra), real worker processes, real ``kill -9``; the application and the server
harness are in ``tests/prefork/servers.py``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.prefork.servers import PreforkServer, poll
from tests.testbed.servers import Rotel

pytestmark = pytest.mark.integration

SETUPS = {
    "configure() in each worker": {"instrument": False},
    "opentelemetry-instrument gunicorn": {"instrument": True},
    "--preload, configure() in the master and in post_fork": {
        "instrument": False,
        "options": ("--preload", "-c", "gunicorn_conf.py"),
    },
}


@pytest.fixture(params=list(SETUPS))
def gunicorn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PreforkServer]:
    server = PreforkServer(tmp_path, env={}, **SETUPS[request.param])
    try:
        yield server
    finally:
        log = server.stop()
        assert "Traceback" not in log, log


def test_one_metrics_port_shows_the_sum_over_all_workers(gunicorn: PreforkServer) -> None:
    pids = gunicorn.requests(90)
    assert len(pids) >= 2, "the requests should have spread over several workers"
    found = gunicorn.counted(90)
    assert found["shop_latency_seconds_count"] == 90


def test_a_worker_killed_and_replaced_leaves_no_counter_going_down(gunicorn: PreforkServer) -> None:
    pids = gunicorn.requests(60)
    gunicorn.counted(60)
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)
    # a scrape routed to the dying worker's socket is reset; the next one is answered by another
    after_kill = poll(gunicorn.scrape, "a scrape after the kill")
    assert after_kill["shop_requests_total"] == 60  # the dead worker's counts stay
    replaced = poll(lambda: (gunicorn.requests(12) - pids) or None, "a replacement worker to answer")
    assert victim not in replaced
    after = gunicorn.counted(gunicorn.sent)
    assert after["shop_latency_seconds_count"] == gunicorn.sent > 60


def test_under_opentelemetry_instrument_each_worker_has_its_own_instance_id_over_otlp(
    tmp_path: Path, rotel: Rotel
) -> None:
    env = {**rotel.otlp_env(), "OTEL_METRIC_EXPORT_INTERVAL": "300"}
    server = PreforkServer(tmp_path, instrument=True, env=env)
    try:
        pids = server.requests(60)
        service = f"shop-{server.port}"

        def all_arrived() -> dict[str, float] | None:
            totals = _latest_totals(rotel, service)
            return totals if sum(totals.values()) == 60 else None

        totals = poll(all_arrived, "every worker's latest OTLP total to add up to 60", timeout=120.0)
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
    server = PreforkServer(tmp_path, instrument=False, env=console, options=("--preload",), multiproc=False)
    try:
        server.requests(12)
    finally:
        log = server.stop()
    assert log.count("that endpoint shows only the parent's metrics, not this worker's") == 3, log
    assert "PROMETHEUS_MULTIPROC_DIR" in log
