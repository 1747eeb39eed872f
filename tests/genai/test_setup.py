"""configure_genai / reset_genai: what each setting switches, and process metrics."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from kaizen_otel.genai import agent_run, configure_genai, process_metrics, reset_genai, tool_call
from kaizen_otel.genai import runtime as genai_runtime
from tests.genai.conftest import make_settings


def test_with_tracing_switched_off_no_span_is_started_but_metrics_are_recorded(telemetry_factory):
    telemetry = telemetry_factory(enable_tracing=False)
    with agent_run("a"), tool_call("t"):
        pass
    assert telemetry.finished() == []
    assert telemetry.points("kaizen.tool.calls")[0].value == 1


def test_with_the_sdk_disabled_the_helpers_stay_no_ops(telemetry_factory):
    telemetry = telemetry_factory(sdk_disabled=True)
    assert genai_runtime.current() is None
    with agent_run("a"):
        pass
    assert telemetry.finished() == []


def test_reset_turns_the_helpers_back_into_no_ops(telemetry):
    reset_genai()
    with agent_run("a"):
        pass
    assert telemetry.finished() == []
    assert genai_runtime.current() is None


def test_process_metrics_report_cpu_memory_threads_and_gc_when_switched_on():
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        configure_genai(make_settings(process_metrics=True), meter_provider=provider)
        assert process_metrics.running()
        data = reader.get_metrics_data()
        metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
        cpu = {p.attributes["cpu.mode"]: p.value for p in metrics["process.cpu.time"].data.data_points}
        assert set(cpu) == {"user", "system"} and cpu["user"] > 0
        (rss,) = metrics["process.memory.usage"].data.data_points
        assert rss.value > 10 * 1024 * 1024
        assert metrics["process.memory.usage"].unit == "By"
        (threads,) = metrics["process.threads"].data.data_points
        assert threads.value >= 1
        generations = {
            p.attributes["cpython.gc.generation"] for p in metrics["cpython.gc.collections"].data.data_points
        }
        assert generations == {"0", "1", "2"}
        reset_genai()
        assert not process_metrics.running()
    finally:
        reset_genai()
        provider.shutdown()
