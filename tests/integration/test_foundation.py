"""The foundation against real servers: Prometheus scrapes us, rotel receives our OTLP, and an
env-only `opentelemetry-instrument` run reaches both."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry import metrics, trace

import kaizen_otel
from tests.testbed.servers import free_port

APP = Path(__file__).resolve().parents[1] / "core" / "apps" / "env_only_app.py"


@pytest.fixture
def env(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return clean_env


def test_prometheus_scrapes_a_configured_process_and_answers_promql(prometheus, env) -> None:
    port = free_port()
    obs = kaizen_otel.configure(
        service_name="scraped-agent", prometheus_host="127.0.0.1", prometheus_port=port
    )
    try:
        meter = metrics.get_meter("integration")
        meter.create_counter("kaizen.it.steps", unit="{step}").add(5, {"agent": "planner"})
        # A model-call span of 0.3 s from any tracer: the enrichment measures it in the spec's buckets.
        start = 1_700_000_000_000_000_000
        span = trace.get_tracer("integration").start_span(
            "chat m", attributes={"gen_ai.operation.name": "chat"}, start_time=start
        )
        span.end(end_time=start + 300_000_000)
        prometheus.add_target(f"127.0.0.1:{port}", job="scraped-agent")
        steps = prometheus.wait_for('kaizen_it_steps_total{agent="planner"}', timeout=30)
        assert float(steps[0]["value"][1]) == 5.0
        buckets = prometheus.wait_for(
            'gen_ai_client_operation_duration_seconds_bucket{le="0.32"}', timeout=10
        )
        assert float(buckets[0]["value"][1]) == 1.0
        info = prometheus.wait_for('target_info{service_name="scraped-agent"}', timeout=10)
        assert info[0]["metric"]["telemetry_distro_name"] == "kaizen_otel"
        exported = prometheus.wait_for('kaizen_telemetry_exported_total{signal="logs"}', timeout=10)
        assert exported
    finally:
        prometheus.remove_target(f"127.0.0.1:{port}")
        obs.shutdown()


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_spans_metrics_and_logs_reach_a_real_otlp_receiver(rotel, env, protocol: str) -> None:
    service = f"otlp-{protocol.replace('/', '-')}"
    endpoint = rotel.grpc_endpoint if protocol == "grpc" else rotel.http_endpoint
    obs = kaizen_otel.configure(
        service_name=service,
        otlp_endpoint=endpoint,
        otlp_protocol=protocol,
        prometheus_enabled=False,
        metric_export_interval_ms=200,
    )
    with trace.get_tracer("integration").start_as_current_span("invoke_agent planner") as span:
        span.set_attribute("gen_ai.agent.name", "planner")
        trace_id = format(span.get_span_context().trace_id, "032x")
        logging.getLogger("integration.agent").warning("tool failed, retrying")
    metrics.get_meter("integration").create_counter("kaizen.it.calls").add(3, {"tool": "search"})
    assert obs.force_flush()
    obs.shutdown()

    spans = rotel.wait_for(lambda r: r["signal"] == "span" and r["service_name"] == service)
    assert spans[0]["name"] == "invoke_agent planner"
    assert spans[0]["attributes"]["gen_ai.agent.name"] == "planner"
    logs = rotel.wait_for(
        lambda r: (
            r["signal"] == "log" and r["service_name"] == service and r["body"] == "tool failed, retrying"
        )
    )
    assert logs[0]["trace_id"] == trace_id
    points = rotel.wait_for(
        lambda r: r["signal"] == "metric" and r["service_name"] == service and r["name"] == "kaizen.it.calls"
    )
    assert points[-1]["value"] == 3
    assert points[-1]["attributes"] == {"tool": "search"}


def test_env_only_opentelemetry_instrument_reaches_rotel_and_metrics(rotel) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_"))}
    env.update(rotel.otlp_env("grpc"))
    env.update(
        {
            "OTEL_SERVICE_NAME": "instrumented-app",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "KAIZEN_OTEL_PROMETHEUS_HOST": "127.0.0.1",
            "KAIZEN_OTEL_PROMETHEUS_PORT": "0",
        }
    )
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    done = subprocess.run(
        [str(instrument), sys.executable, str(APP)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["configured_by"] == "opentelemetry-instrument"
    assert report["metrics_has_job_counter"] is True
    spans = rotel.wait_for(lambda r: r["signal"] == "span" and r["service_name"] == "instrumented-app")
    assert spans[0]["name"] == "invoke_agent planner"
    logs = rotel.wait_for(lambda r: r["signal"] == "log" and r["service_name"] == "instrumented-app")
    assert [log["body"] for log in logs] == ["planning step done"]
    assert logs[0]["trace_id"] == spans[0]["trace_id"]
