"""Self-monitoring: telemetry loss is counted and visible, cardinality overflow is warned once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from kaizen_otel._internal.providers import cardinality_limits
from kaizen_otel._internal.selfmon import (
    CountingBatchSpanProcessor,
    CountingSpanExporter,
    TelemetryStats,
)


class _Failing(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.FAILURE


class _Raising(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise ConnectionError("collector unreachable")


class _Collecting(SpanExporter):
    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


def _provider(exporter: SpanExporter, stats: TelemetryStats, **kwargs: int) -> TracerProvider:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(
        CountingBatchSpanProcessor(CountingSpanExporter(exporter, stats), stats, **kwargs)
    )
    return provider


def test_exported_spans_are_counted() -> None:
    stats, sink = TelemetryStats(), _Collecting()
    provider = _provider(sink, stats)
    for _ in range(7):
        provider.get_tracer("t").start_span("s").end()
    provider.force_flush()
    assert stats.signals["traces"].exported == 7 == sink.count
    assert not stats.signals["traces"].failing
    provider.shutdown()


def test_a_failing_or_raising_exporter_is_counted_and_marks_the_signal_failing() -> None:
    for exporter in (_Failing(), _Raising()):
        stats = TelemetryStats()
        provider = _provider(exporter, stats)
        provider.get_tracer("t").start_span("s").end()
        provider.force_flush()
        assert stats.signals["traces"].failed == 1
        assert stats.failing_signals() == ["traces"]
        provider.shutdown()


class _Blocking(SpanExporter):
    """Holds the export thread inside its first export until released."""

    def __init__(self) -> None:
        self.entered, self.release, self.count = threading.Event(), threading.Event(), 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.release.wait(10)
        self.count += len(spans)
        return SpanExportResult.SUCCESS


def test_spans_dropped_by_a_full_queue_are_counted_exactly() -> None:
    stats, sink = TelemetryStats(), _Blocking()
    provider = _provider(
        sink, stats, max_queue_size=10, max_export_batch_size=10, schedule_delay_millis=60_000
    )
    tracer = provider.get_tracer("t")
    for _ in range(10):  # a full batch wakes the export thread, which then blocks in export
        tracer.start_span("s").end()
    assert sink.entered.wait(10)
    for _ in range(15):  # the queue holds 10 of these; 5 are dropped
        tracer.start_span("s").end()
    sink.release.set()
    provider.force_flush()
    assert stats.signals["traces"].dropped == 5
    assert sink.count == 20
    provider.shutdown()


def test_spans_ended_after_shutdown_count_as_dropped() -> None:
    stats, sink = TelemetryStats(), _Collecting()
    provider = _provider(sink, stats)
    span = provider.get_tracer("t").start_span("late")
    provider.shutdown()
    span.end()
    assert stats.signals["traces"].dropped == 1


def test_the_counters_are_exposed_as_metrics() -> None:
    stats = TelemetryStats()
    stats.record_export("logs", 4, ok=True)
    stats.record_drop("traces", 2)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    stats.register_instruments(provider.get_meter("kaizen_otel"))
    data = reader.get_metrics_data()
    values = {
        (metric.name, dict(point.attributes).get("signal")): point.value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in metric.data.data_points
    }
    assert values[("kaizen.telemetry.exported", "logs")] == 4
    assert values[("kaizen.telemetry.dropped", "traces")] == 2
    provider.shutdown()


def test_reaching_the_cardinality_limit_is_warned_once_per_metric(caplog: pytest.LogCaptureFixture) -> None:
    stats = TelemetryStats()
    reader = InMemoryMetricReader(cardinality_limits=cardinality_limits(5))
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    counter = provider.get_meter("m").create_counter("kaizen.requests")
    for i in range(20):
        counter.add(1, {"user": f"u{i}"})
    with caplog.at_level(logging.WARNING, logger="kaizen_otel.selfmon"):
        stats.check_overflow(reader.get_metrics_data(), 5)
        stats.check_overflow(reader.get_metrics_data(), 5)
    assert caplog.text.count("'kaizen.requests' reached the cardinality limit of 5 series") == 1
    assert stats.overflowed == {"kaizen.requests"}
    provider.shutdown()
