"""Test helpers for applications that use kaizen_otel (and for kaizen_otel's own tests).

``capture_telemetry()`` installs in-memory span and log exporters and an in-memory metric reader
as the global providers, and :func:`reset_globals` undoes any installation, so each test starts
from the state of a process that never configured OpenTelemetry. Use as a pytest fixture::

    @pytest.fixture
    def telemetry():
        with capture_telemetry() as captured:
            yield captured
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from kaizen_otel._internal.providers import genai_views


def reset_globals() -> None:
    """Forget every global provider and kaizen_otel's active handle (tests only)."""
    from kaizen_otel._internal import setup

    setup.reset_for_tests()
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    from opentelemetry.metrics import _internal as metrics_internal

    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    metrics_internal._PROXY_METER_PROVIDER = metrics_internal._ProxyMeterProvider()
    from opentelemetry._logs import _internal as logs_internal

    logs_internal._LOGGER_PROVIDER_SET_ONCE = Once()
    logs_internal._LOGGER_PROVIDER = None
    logs_internal._PROXY_LOGGER_PROVIDER = logs_internal.ProxyLoggerProvider()


@dataclass
class CapturedTelemetry:
    """In-memory providers installed as the globals, with accessors for what they recorded."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider
    span_exporter: InMemorySpanExporter
    log_exporter: InMemoryLogRecordExporter
    metric_reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        return list(self.span_exporter.get_finished_spans())

    def logs(self) -> list[ReadableLogRecord]:
        return list(self.log_exporter.get_finished_logs())

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name -> its data points, from one collection."""
        data = self.metric_reader.get_metrics_data()
        points: dict[str, list[Any]] = {}
        if data is None:
            return points
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    points.setdefault(metric.name, []).extend(metric.data.data_points)
        return points

    def clear(self) -> None:
        self.span_exporter.clear()
        self.log_exporter.clear()


@contextmanager
def capture_telemetry(service_name: str = "test-service") -> Iterator[CapturedTelemetry]:
    """Install in-memory providers globally for the duration of the block, then reset."""
    reset_globals()
    resource = Resource.create({"service.name": service_name})
    span_exporter = InMemorySpanExporter()
    log_exporter = InMemoryLogRecordExporter()
    reader = InMemoryMetricReader()
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    meter_provider = MeterProvider(
        resource=resource, metric_readers=[reader], views=genai_views(2000), shutdown_on_exit=False
    )
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    _logs.set_logger_provider(logger_provider)
    try:
        yield CapturedTelemetry(
            tracer_provider, meter_provider, logger_provider, span_exporter, log_exporter, reader
        )
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
        logger_provider.shutdown()
        reset_globals()


__all__ = ["CapturedTelemetry", "capture_telemetry", "reset_globals"]
