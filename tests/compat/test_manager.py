"""ObservabilityManager: one object over the process's pipeline, each component switchable."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import pytest
from opentelemetry import trace

import kaizen_otel
from kaizen_otel import KaizenConfigError, ObservabilityManager, StructuredLogger, TracingManager
from tests.compat.test_metrics import _value
from tests.testbed.servers import Rotel


@pytest.fixture
def otlp(rotel: Rotel, compat_env: pytest.MonkeyPatch) -> Rotel:
    """Spans of managers with tracing on go to the session's rotel receiver."""
    for name, value in rotel.otlp_env("grpc").items():
        compat_env.setenv(name, value)
    compat_env.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    return rotel


def test_a_full_manager_configures_the_process_with_its_service_name(otlp: Rotel) -> None:
    obs = ObservabilityManager(service_name="qa-agent")
    handle = kaizen_otel.get_observability()
    assert obs.handle is handle and handle is not None
    assert handle.settings.service_name == "qa-agent"
    assert obs.get_service_name() == "qa-agent"
    assert obs.get_enabled_components() == ["metrics", "logging", "tracing", "audit"]
    assert all(obs.is_component_enabled(c) for c in ("metrics", "logging", "tracing", "audit"))
    assert isinstance(obs.get_tracing_manager(), TracingManager)
    assert isinstance(obs.get_logger("component"), StructuredLogger)
    assert obs.identity == {}
    obs.shutdown()


def test_the_lightweight_mode_builds_no_tracing_and_opens_no_audit_file(audit_path: Path) -> None:
    obs = ObservabilityManager(
        service_name="qa-agent",
        enable_metrics=True,
        enable_logging=True,
        enable_tracing=False,
        enable_audit=False,
    )
    assert obs.get_enabled_components() == ["metrics", "logging"]
    assert obs.get_tracing_manager() is None
    assert not obs.is_component_enabled("tracing") and not obs.is_component_enabled("audit")
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # no provider installed
    assert asyncio.run(obs.record_audit("agent-1", "action", {}, "success")) is None
    assert asyncio.run(obs.query_audit_by_agent("agent-1")) == []
    assert asyncio.run(obs.query_audit_by_action("action")) == []
    assert not audit_path.exists()
    asyncio.run(obs.record_metric("batch_processed_total", 1000, type="counter"))
    assert _value(asyncio.run(obs.export_metrics()), "batch_processed_total") == 1000.0
    obs.shutdown()


def test_the_audit_only_mode_records_audits_and_nothing_else(audit_path: Path) -> None:
    obs = ObservabilityManager(
        enable_metrics=False, enable_logging=False, enable_tracing=False, enable_audit=True
    )
    handle = obs.handle
    assert handle is not None
    assert handle.metrics_url is None and handle.meter_provider is None  # no /metrics server, no meter
    assert handle.logger_provider is None and handle.tracer_provider is None
    assert obs.get_logger("x") is None
    assert obs.metrics is None
    asyncio.run(obs.record_metric("counter", 1.0, type="counter"))  # a no-op, as documented
    assert asyncio.run(obs.export_metrics()) == ""
    asyncio.run(obs.record_audit("agent-1", "action", {}, "success"))
    entries = asyncio.run(obs.query_audit_by_agent("agent-1"))
    assert [(e.agent_id, e.action, e.result) for e in entries] == [("agent-1", "action", "success")]
    assert audit_path.exists()
    obs.shutdown()


def test_a_second_manager_reuses_the_providers_and_carries_its_name_as_agent_attributes(otlp: Rotel) -> None:
    first = ObservabilityManager(service_name="frontdesk", enable_audit=False)
    second = ObservabilityManager(service_name="billing", enable_audit=False)

    assert second.handle is first.handle
    assert first.identity == {} and second.identity == {"gen_ai.agent.name": "billing"}
    asyncio.run(first.record_metric("jobs_total", 1.0, labels={"queue": "a"}))
    asyncio.run(second.record_metric("jobs_total", 2.0, labels={"queue": "a"}))
    text = asyncio.run(second.export_metrics())
    assert _value(text, "jobs_total", queue="a", gen_ai_agent_name="billing") == 2.0
    # The first manager's series has no agent name ("" is how Prometheus text writes an absent label).
    assert _value(text, "jobs_total", queue="a", gen_ai_agent_name="") == 1.0

    logger = second.get_logger("worker")
    assert logger is not None and logger.get_context()["gen_ai.agent.name"] == "billing"
    assert second.get_logger("worker") is logger
    first_logger = first.get_logger("worker")
    assert first_logger is not None and "gen_ai.agent.name" not in first_logger.get_context()

    tracing = second.get_tracing_manager()
    assert tracing is not None
    span = tracing.tracer.start_span("work")
    span.end()
    assert span.attributes is not None and span.attributes["gen_ai.agent.name"] == "billing"
    first.shutdown()
    second.shutdown()


def test_a_manager_wanting_a_signal_the_process_lacks_says_so(caplog: pytest.LogCaptureFixture) -> None:
    first = ObservabilityManager(enable_tracing=False, enable_audit=False)
    with caplog.at_level(logging.WARNING, logger="kaizen_otel.compat"):
        second = ObservabilityManager(service_name="tracer", enable_audit=False, jaeger_host="127.0.0.1")
    assert "wants tracing, but the process was configured without it" in caplog.text
    first.shutdown()
    second.shutdown()


def test_the_documents_default_name_leaves_a_service_name_from_the_environment(
    compat_env: pytest.MonkeyPatch,
) -> None:
    compat_env.setenv("OTEL_SERVICE_NAME", "from-env")
    obs = ObservabilityManager(enable_tracing=False, enable_audit=False)
    assert obs.handle is not None and obs.handle.settings.service_name == "from-env"
    assert obs.get_service_name() == "kaizen-agent"
    assert obs.identity == {"gen_ai.agent.name": "kaizen-agent"}
    obs.shutdown()


def test_bad_arguments_name_the_parameter_and_what_is_allowed() -> None:
    with pytest.raises(KaizenConfigError, match="enable_tracing"):
        ObservabilityManager(enable_tracing="yes")  # type: ignore[arg-type]
    with pytest.raises(KaizenConfigError, match="service_name"):
        ObservabilityManager(service_name="")
    obs = ObservabilityManager(enable_tracing=False)
    with pytest.raises(KaizenConfigError, match="one of counter, gauge, histogram"):
        asyncio.run(obs.record_metric("x", 1.0, type="summary"))
    with pytest.raises(KaizenConfigError, match="one of metrics, logging, tracing, audit"):
        obs.is_component_enabled("traces")
    with pytest.raises(ValueError, match="result must be one of success, failure, denied"):
        asyncio.run(obs.record_audit("agent-1", "step", {}, "ok"))
    obs.shutdown()


def test_shutdown_flushes_and_stops_this_manager_but_not_the_process_pipeline(audit_path: Path) -> None:
    obs = ObservabilityManager(enable_tracing=False)
    asyncio.run(obs.record_audit("agent-1", "step", {}, "success"))
    obs.shutdown()
    obs.shutdown()  # idempotent
    assert obs.closed
    asyncio.run(obs.record_metric("after_total", 1.0))  # ignored after shutdown
    later = ObservabilityManager(service_name=f"later-{uuid.uuid4().hex[:6]}", enable_tracing=False)
    assert later.handle is obs.handle and later.handle is not None and not later.handle.closed
    asyncio.run(later.record_metric("after_total", 1.0))
    assert _value(asyncio.run(later.export_metrics()), "after_total") == 1.0
    later.shutdown()


def test_after_the_process_shut_down_a_manager_still_audits_and_records_nothing_else(
    caplog: pytest.LogCaptureFixture, audit_path: Path
) -> None:
    kaizen_otel.configure(enable_tracing=False)
    kaizen_otel.shutdown()
    with caplog.at_level(logging.WARNING, logger="kaizen_otel.compat"):
        obs = ObservabilityManager(enable_tracing=False)
    assert obs.handle is None and "cannot be configured again" in caplog.text
    asyncio.run(obs.record_metric("ignored_total", 1.0))  # the stopped pipeline takes it silently
    asyncio.run(obs.record_audit("agent-1", "after-exit", {}, "success"))  # audit is not telemetry
    assert [e.action for e in asyncio.run(obs.query_audit_by_agent("agent-1"))] == ["after-exit"]
    obs.shutdown()
    assert audit_path.exists()
