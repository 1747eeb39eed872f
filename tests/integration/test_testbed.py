"""The test bed works on its own: real Prometheus, Alertmanager and rotel, driven by plain libraries.

No kaizen_otel code runs here, so a failure in this file points at the bed (servers, fixtures,
the rotel processor), not at the package under test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from prometheus_client import CollectorRegistry, Counter, start_http_server

from tests.testbed.servers import Alertmanager, Prometheus, Rotel, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client_target(prometheus: Prometheus) -> Iterator[str]:
    """A prometheus-client HTTP server on a free port with ``testbed_requests_total = 3``, scraped."""
    registry = CollectorRegistry()
    counter = Counter(
        "testbed_requests", "Requests seen by the test-bed target.", ["route"], registry=registry
    )
    counter.labels(route="/chat").inc(3)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    target = f"127.0.0.1:{port}"
    prometheus.add_target(target)
    try:
        yield target
    finally:
        prometheus.remove_target(target)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_prometheus_scrapes_a_prometheus_client_target_and_answers_promql(
    prometheus: Prometheus, client_target: str
) -> None:
    """A counter served by prometheus-client is scraped and found by a PromQL query with its labels."""
    result = prometheus.wait_for(f'testbed_requests_total{{instance="{client_target}"}}')

    assert result[0]["metric"]["route"] == "/chat"
    assert result[0]["metric"]["job"] == "testbed"
    assert float(result[0]["value"][1]) == 3.0
    assert "testbed_requests_total" in prometheus.metric_names()


def _exporters(protocol: str, rotel: Rotel) -> tuple[SpanExporter, LogRecordExporter, MetricExporter]:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        endpoint = rotel.grpc_endpoint
        return (
            OTLPSpanExporter(endpoint=endpoint, insecure=True),
            OTLPLogExporter(endpoint=endpoint, insecure=True),
            OTLPMetricExporter(endpoint=endpoint, insecure=True),
        )
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HTTPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HTTPMetricExporter,
    )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPSpanExporter

    base = rotel.http_endpoint
    return (
        HTTPSpanExporter(endpoint=f"{base}/v1/traces"),
        HTTPLogExporter(endpoint=f"{base}/v1/logs"),
        HTTPMetricExporter(endpoint=f"{base}/v1/metrics"),
    )


def _emit_one_of_each(protocol: str, rotel: Rotel, service: str) -> dict[str, Any]:
    """One span, one correlated log record, a counter and a histogram, flushed; returns the ids."""
    span_exporter, log_exporter, metric_exporter = _exporters(protocol, rotel)
    resource = Resource.create({"service.name": service, "deployment.environment.name": "testbed"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=60_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    try:
        tracer = tracer_provider.get_tracer("testbed.scope", "1.0")
        with tracer.start_as_current_span(
            "chat gpt-test", attributes={"gen_ai.request.model": "gpt-test", "gen_ai.usage.input_tokens": 12}
        ) as span:
            logger_provider.get_logger("testbed.logs").emit(
                timestamp=time.time_ns(),
                body="model answered",
                severity_number=SeverityNumber.WARN,
                severity_text="WARN",
                attributes={"testbed.key": "value"},
            )
            context = span.get_span_context()
        meter = meter_provider.get_meter("testbed.meter")
        meter.create_counter("testbed.calls", unit="{call}").add(2, {"outcome": "ok"})
        meter.create_histogram("testbed.duration", unit="s").record(0.25, {"outcome": "ok"})
    finally:
        tracer_provider.shutdown()
        logger_provider.shutdown()
        meter_provider.shutdown()
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_spans_logs_and_metrics_reach_rotel_with_their_attributes(rotel: Rotel, protocol: str) -> None:
    """Plain OTel SDK exporters deliver a span, a log record and metric points to rotel's processor."""
    service = f"testbed-{protocol.split('/')[0]}-{uuid.uuid4().hex[:8]}"
    ids = _emit_one_of_each(protocol, rotel, service)

    def mine(record: dict[str, Any]) -> bool:
        return record["service_name"] == service

    rotel.wait_for(lambda r: mine(r) and r["signal"] == "metric" and r["name"] == "testbed.duration")
    rotel.wait_for(lambda r: mine(r) and r["signal"] in ("span", "log"), count=2)

    [span] = rotel.received("span", service_name=service)
    assert span["name"] == "chat gpt-test"
    assert span["attributes"] == {"gen_ai.request.model": "gpt-test", "gen_ai.usage.input_tokens": 12}
    assert (span["trace_id"], span["span_id"]) == (ids["trace_id"], ids["span_id"])
    assert span["scope"]["name"] == "testbed.scope"
    assert span["resource"]["deployment.environment.name"] == "testbed"

    [log] = rotel.received("log", service_name=service)
    assert (log["body"], log["severity_text"], log["severity_number"]) == ("model answered", "WARN", 13)
    assert log["attributes"] == {"testbed.key": "value"}
    assert (log["trace_id"], log["span_id"]) == (ids["trace_id"], ids["span_id"])
    assert log["time_unix_nano"] > 0

    points = {record["name"]: record for record in rotel.received("metric", service_name=service)}
    assert points["testbed.calls"]["type"] == "sum"
    assert points["testbed.calls"]["value"] == 2
    assert points["testbed.calls"]["attributes"] == {"outcome": "ok"}
    assert points["testbed.duration"]["type"] == "histogram"
    assert (points["testbed.duration"]["count"], points["testbed.duration"]["sum"]) == (1, 0.25)
    assert rotel.received("error") == []


def test_rotel_clear_forgets_what_arrived_before(rotel: Rotel) -> None:
    """After clear(), received() lists only records that arrive later."""
    first = f"testbed-before-{uuid.uuid4().hex[:8]}"
    _emit_one_of_each("grpc", rotel, first)
    for signal in ("span", "log", "metric"):  # all of it, so nothing of the first arrives after clear()
        rotel.wait_for(lambda r, signal=signal: r["service_name"] == first and r["signal"] == signal)

    rotel.clear()
    second = f"testbed-after-{uuid.uuid4().hex[:8]}"
    _emit_one_of_each("grpc", rotel, second)
    rotel.wait_for(lambda r: r["service_name"] == second and r["signal"] == "span")

    assert rotel.received(service_name=first) == []
    assert rotel.received("span", service_name=second) != []


ALWAYS_FIRING_RULES = """\
groups:
  - name: testbed
    rules:
      - alert: TestbedAlwaysFiring
        expr: vector(1)
        for: 0s
        labels:
          severity: info
        annotations:
          summary: fires as soon as the rule is evaluated
"""


def test_an_alert_rule_fires_through_alertmanager_to_the_webhook(
    prometheus: Prometheus, alertmanager: Alertmanager, tmp_path: Path
) -> None:
    """A Prometheus alert rule reaches the webhook receiver through a real Alertmanager."""
    rules = tmp_path / "always.rules.yml"
    rules.write_text(ALWAYS_FIRING_RULES)
    prometheus.set_alertmanager(alertmanager.host_port)
    prometheus.add_rule_file(rules)
    try:
        alert = alertmanager.webhook.wait_for_alert("TestbedAlwaysFiring", timeout=30)
    finally:
        prometheus.remove_rule_file(rules)
        prometheus.set_alertmanager(None)

    assert alert["labels"]["severity"] == "info"
    assert alert["annotations"]["summary"] == "fires as soon as the rule is evaluated"


def _run_installer(path: str, ci: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path, "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "tests.testbed.install"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_installer_reports_missing_servers_and_exits_zero_outside_ci(tmp_path: Path) -> None:
    """With no server binary on PATH and no apt-get, the installer says what is missing and exits 0."""
    result = _run_installer(str(tmp_path), ci="")

    assert result.returncode == 0
    assert "still missing prometheus, prometheus-alertmanager" in result.stdout


def test_installer_fails_under_ci_when_a_server_cannot_be_installed(tmp_path: Path) -> None:
    """Under CI=true a server that cannot be installed makes the installer exit non-zero, naming it."""
    result = _run_installer(str(tmp_path), ci="true")

    assert result.returncode == 1
    assert (
        "could not install prometheus, prometheus-alertmanager, chromium, chromium-driver; "
        "CI=true needs every server" in result.stderr
    )


STARTS_ROTEL_AND_WAITS = """\
import sys, time
from tests.testbed.servers import Rotel
server = Rotel()
server.start()
print(server.pid, server.workdir, flush=True)
time.sleep(60)
"""


def _gone(pid: int) -> bool:
    """True once pid has exited (a zombie waiting for a reaper counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux only")
def test_a_server_does_not_outlive_a_test_process_killed_with_sigkill(rotel: Rotel) -> None:
    """A server started by a process that dies by kill -9 (no teardown) is killed with it."""
    runner = subprocess.Popen(
        [sys.executable, "-c", STARTS_ROTEL_AND_WAITS], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert runner.stdout is not None
        pid_text, workdir = runner.stdout.readline().split()
        server_pid = int(pid_text)
        assert not _gone(server_pid)
    finally:
        runner.kill()
        runner.wait(timeout=10)
    deadline = time.monotonic() + 10
    while not _gone(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    shutil.rmtree(workdir, ignore_errors=True)

    assert _gone(server_pid)
