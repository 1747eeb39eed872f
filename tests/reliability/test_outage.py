"""The collector is down, hangs or fails: the app keeps running, exits on time, and we say so.

Each exit test runs a real app in a fresh interpreter against a broken backend on 127.0.0.1 and
times, from outside, how long the process takes to end after its work is done.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

import kaizen_otel
from tests.reliability.apps.runner import app_environment, run_app
from tests.reliability.backends import black_hole, failing_http, refusing_endpoint
from tests.testbed.fixtures import require
from tests.testbed.install import has_libpython, rotel_agent_path
from tests.testbed.servers import Rotel, http_get

LIMIT_MS = 1500
#: Interpreter teardown after our exit hook returned, on a loaded 2-core machine.
TEARDOWN_SLACK = 2.0


@contextmanager
def _refusing() -> Iterator[str]:
    yield refusing_endpoint()


BACKENDS: dict[str, tuple[Callable[[], AbstractContextManager[str]], str]] = {
    "refusing-grpc": (_refusing, "grpc"),
    "black-hole-grpc": (black_hole, "grpc"),
    "black-hole-http": (black_hole, "http/protobuf"),
    "http-500": (lambda: failing_http(500), "http/protobuf"),
    "http-503": (lambda: failing_http(503), "http/protobuf"),
}


def _app_env(endpoint: str, protocol: str, **extra: str) -> dict[str, str]:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_LOGS_EXPORTER": "otlp",
        "KAIZEN_OTEL_PROMETHEUS_PORT": "0",
        "KAIZEN_OTEL_SERVICE_NAME": "outage-app",
    }
    return app_environment(**{**env, **extra})


@pytest.mark.parametrize("exit_path", ["shutdown", "atexit"])
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_exit_finishes_within_the_shutdown_limit_whatever_the_backend_does(
    backend: str, exit_path: str
) -> None:
    make_backend, protocol = BACKENDS[backend]
    with make_backend() as endpoint:
        env = _app_env(endpoint, protocol, KAIZEN_OTEL_SHUTDOWN_TIMEOUT_MS=str(LIMIT_MS))
        run = run_app("tests.reliability.apps.outage_app", "20", exit_path, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.exit_seconds < LIMIT_MS / 1000 + TEARDOWN_SLACK, (run.exit_seconds, run.stderr[-2000:])
    lost_lines = [line for line in run.stderr.splitlines() if "not exported:" in line]
    assert len(lost_lines) == 1, run.stderr[-3000:]
    assert lost_lines[0].startswith("kaizen_otel: shutdown in ")
    assert "20 log records" in lost_lines[0], lost_lines[0]
    assert "60 spans" in lost_lines[0], lost_lines[0]


def test_the_default_limit_bounds_exit_with_a_collector_that_never_answers() -> None:
    with black_hole() as endpoint:
        run = run_app("tests.reliability.apps.outage_app", "5", "atexit", env=_app_env(endpoint, "grpc"))
    assert run.returncode == 0
    assert run.exit_seconds < 5.0 + TEARDOWN_SLACK, run.exit_seconds


def test_a_healthy_backend_loses_nothing_at_exit(rotel: Rotel) -> None:
    env = _app_env(rotel.grpc_endpoint, "grpc", KAIZEN_OTEL_SERVICE_NAME="outage-app-healthy")
    run = run_app("tests.reliability.apps.outage_app", "20", "atexit", env=env)
    assert run.returncode == 0
    assert "not exported" not in run.stderr
    spans = rotel.wait_for(
        lambda r: r["signal"] == "span" and r.get("service_name") == "outage-app-healthy", count=60
    )
    assert len(spans) == 60


# --------------------------------------------------------------------------------------------------
# Readiness and counting while the collector goes away and comes back


def _readyz(obs: kaizen_otel.Observability) -> tuple[int, dict[str, object]]:
    assert obs.health_url is not None
    status, body = http_get(obs.health_url.replace("/healthz", "/readyz"))
    return status, json.loads(body)


def _metric(obs: kaizen_otel.Observability, name: str, signal: str) -> float:
    assert obs.metrics_url is not None
    text = urllib.request.urlopen(obs.metrics_url, timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + "{") and f'signal="{signal}"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{signal={signal}}} not in /metrics")


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout} s")
        time.sleep(0.05)


def _emit_span(name: str) -> None:
    with kaizen_otel.agent_run(name):
        pass


@pytest.fixture
def stoppable_rotel(tmp_path: Path) -> Iterator[Rotel]:
    """A rotel of this test's own, not started: the test starts, kills and restarts it."""
    require(rotel_agent_path() is not None, "PyPI package `rotel`")
    require(has_libpython(), "Debian package `libpython3.11`")
    server = Rotel(workdir=tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_readyz_turns_not_ready_on_the_first_failed_attempt_and_ready_after_recovery(
    stoppable_rotel: Rotel, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    obs = kaizen_otel.configure(
        service_name="readyz-app",
        otlp_endpoint=stoppable_rotel.grpc_endpoint,
        traces_exporter="otlp",
        metrics_exporter="prometheus",
        logs_exporter="none",
        prometheus_port=0,
        shutdown_timeout_ms=1000,
    )
    assert _readyz(obs)[0] == 200
    # Down at start: the first failed attempt flips /readyz, long before the exporter gives up (~10 s).
    _emit_span("before-start")
    _wait(lambda: _readyz(obs)[0] == 503, 5.0, "not ready")
    assert _readyz(obs)[1] == {"ready": False, "reasons": ["traces exporter retrying"]}
    assert _metric(obs, "kaizen_telemetry_failed_attempts_total", "traces") >= 1
    # The collector comes up: the retried batch and new data arrive, /readyz is ready again.
    stoppable_rotel.start()
    _emit_span("after-start")
    stoppable_rotel.wait_for(lambda r: r.get("name") == "invoke_agent after-start", timeout=15)
    _wait(lambda: _readyz(obs)[0] == 200, 10.0, "ready again")
    # Killed mid-run, then restarted: not ready at once, ready again, data after the restart arrives.
    stoppable_rotel.stop()
    _emit_span("while-down")
    _wait(lambda: _readyz(obs)[0] == 503, 5.0, "not ready after the kill")
    stoppable_rotel.start()
    _emit_span("after-restart")
    stoppable_rotel.wait_for(lambda r: r.get("name") == "invoke_agent after-restart", timeout=15)
    _wait(lambda: _readyz(obs)[0] == 200, 10.0, "ready after the restart")


def test_a_failing_collector_is_counted_at_the_first_attempt(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    with failing_http(503) as endpoint:
        obs = kaizen_otel.configure(
            service_name="counting-app",
            otlp_endpoint=endpoint,
            otlp_protocol="http/protobuf",
            traces_exporter="otlp",
            metrics_exporter="prometheus",
            logs_exporter="none",
            prometheus_port=0,
            shutdown_timeout_ms=500,
        )
        _emit_span("counted")
        _wait(lambda: _metric(obs, "kaizen_telemetry_failed_attempts_total", "traces") >= 1, 3.0, "counted")
        assert _readyz(obs)[1]["reasons"] == ["traces exporter retrying"]
        obs.shutdown()
    assert obs.lost_at_exit["traces"] >= 1
