"""Which exporters a configuration builds, and where they send."""

from __future__ import annotations

import io
import json

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from kaizen_otel._internal.providers import build_sampler, otlp_exporter
from kaizen_otel._internal.settings import resolve
from kaizen_otel._internal.span_console import CompactConsoleSpanExporter


def _endpoint(exporter: object) -> str:
    return getattr(exporter, "_endpoint", None) or getattr(exporter, "_endpoint_url", "")


def test_http_appends_the_signal_path_to_the_base_endpoint() -> None:
    settings = resolve(
        {"otlp_endpoint": "http://collector:4318/", "otlp_protocol": "http/protobuf"}, environ={}
    ).settings
    assert _endpoint(otlp_exporter(settings, "traces")) == "http://collector:4318/v1/traces"
    assert _endpoint(otlp_exporter(settings, "logs")) == "http://collector:4318/v1/logs"


def test_a_signal_endpoint_is_used_as_is_with_its_own_protocol() -> None:
    settings = resolve(
        {
            "otlp_endpoint": "http://collector:4317",
            "otlp_metrics_endpoint": "http://metrics:4318/custom",
            "otlp_metrics_protocol": "http/protobuf",
        },
        environ={},
    ).settings
    exporter = otlp_exporter(settings, "metrics")
    assert type(exporter).__module__.startswith("opentelemetry.exporter.otlp.proto.http")
    assert _endpoint(exporter) == "http://metrics:4318/custom"
    grpc_exporter = otlp_exporter(settings, "traces")
    assert type(grpc_exporter).__module__.startswith("opentelemetry.exporter.otlp.proto.grpc")


def test_the_ratio_sampler_is_parent_based_when_asked() -> None:
    settings = resolve(
        {"traces_sampler": "parentbased_traceidratio", "traces_sampler_arg": 0.25}, environ={}
    ).settings
    assert "ParentBased" in build_sampler(settings).get_description()
    assert "0.25" in build_sampler(settings).get_description()


def test_the_console_span_exporter_writes_one_json_line_per_span() -> None:
    stream = io.StringIO()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(CompactConsoleSpanExporter(stream)))
    with provider.get_tracer("t").start_as_current_span("invoke_agent planner") as parent:
        parent.set_attribute("gen_ai.agent.name", "planner")
        provider.get_tracer("t").start_span("execute_tool search").end()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["span"] for line in lines] == ["execute_tool search", "invoke_agent planner"]
    assert lines[0]["parent_span_id"] == lines[1]["span_id"]
    assert lines[1]["attributes"] == {"gen_ai.agent.name": "planner"}
    assert lines[0]["trace_id"] == lines[1]["trace_id"]


def test_the_text_console_format_still_shows_the_trace_id() -> None:
    stream = io.StringIO()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(CompactConsoleSpanExporter(stream, fmt="text")))
    span = provider.get_tracer("t").start_span("chat gpt-4o")
    span.end()
    line = stream.getvalue().strip()
    assert " SPAN chat gpt-4o " in line
    assert f"trace_id={span.get_span_context().trace_id:032x}" in line
