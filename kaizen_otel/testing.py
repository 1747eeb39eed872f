"""Test helpers for applications that use kaizen_otel (and for kaizen_otel's own tests).

``capture_telemetry()`` runs the real ``configure()`` pipeline (redaction, the stdlib logging
bridge, the agent helpers, budgets, hooks) with in-memory exporters in place of the network ones:
no port is opened and an enabled audit trail writes to a temporary folder. What a test reads is
what an exporter would have been sent. :func:`reset_globals` forgets everything kaizen_otel and
the OpenTelemetry API hold, so each capture starts from a process that never configured anything.

The ``kaizen_telemetry`` pytest fixture (installed with the package) wraps it; see docs/testing.md::

    def test_each_tool_call_is_a_span(kaizen_telemetry):
        run_my_agent()
        assert kaizen_telemetry.span("execute_tool search")
        assert kaizen_telemetry.value("kaizen.tool.calls", {"gen_ai.tool.name": "search"}) == 1
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, ObservableCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    InMemoryMetricReader,
    Sum,
)
from opentelemetry.sdk.metrics.export import Histogram as HistogramData
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.util._once import Once

__all__ = [
    "CapturedTelemetry",
    "HistogramValue",
    "SequentialIdGenerator",
    "capture_telemetry",
    "reset_globals",
]

#: A metric point's attributes as a hashable key: ``(("gen_ai.tool.name", "search"), ...)``, sorted.
Attributes = tuple[tuple[str, Any], ...]


def reset_globals() -> None:
    """Forget everything kaizen_otel and the OpenTelemetry API hold in this process (tests only).

    Shuts down the active handle (its exporters, server, audit trail, logging bridge), then resets
    the agent helpers' runtime, registered hooks, process metrics, logging level and logger
    contexts, every state registered with ``_internal.resets``, and the three global providers.
    Modules that were never imported hold nothing and are not imported here.
    """
    from kaizen_otel._internal import resets, setup

    setup.reset_for_tests()
    runtime = sys.modules.get("kaizen_otel.genai.runtime")
    if runtime is not None:
        runtime.reset_genai()
        # the next providers, whoever installs them, are picked up again
        setattr(runtime, "_blocked", None)  # noqa: B010
    hooks = sys.modules.get("kaizen_otel.genai.hooks")
    if hooks is not None:
        manager = hooks.get_hook_manager()
        manager.clear()
        manager._warned.clear()
    process_metrics = sys.modules.get("kaizen_otel.genai.process_metrics")
    if process_metrics is not None:
        process_metrics.reset()
    logging_module = sys.modules.get("kaizen_otel.logging")
    if logging_module is not None:
        logging_module.reset_logging()
        logging_module.reset_state()
    resets.run_resets()
    _reset_otel_globals()


def _reset_otel_globals() -> None:
    from opentelemetry import trace
    from opentelemetry._logs import _internal as logs_internal
    from opentelemetry.metrics import _internal as metrics_internal

    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    metrics_internal._PROXY_METER_PROVIDER = metrics_internal._ProxyMeterProvider()
    logs_internal._LOGGER_PROVIDER_SET_ONCE = Once()
    logs_internal._LOGGER_PROVIDER = None
    logs_internal._PROXY_LOGGER_PROVIDER = logs_internal.ProxyLoggerProvider()


# --- deterministic ids and clock -------------------------------------------------------------------


class SequentialIdGenerator(IdGenerator):
    """Trace ids and span ids 1, 2, 3, ... in the order they are asked for (snapshot tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trace = 0
        self._span = 0

    def generate_trace_id(self) -> int:
        with self._lock:
            self._trace += 1
            return self._trace

    def generate_span_id(self) -> int:
        with self._lock:
            self._span += 1
            return self._span


class _Clock:
    """1 s, 2 s, 3 s, ... (in ns since the epoch): each span start, span end and log record a tick."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now = 0

    def tick(self) -> int:
        with self._lock:
            self._now += 1_000_000_000
            return self._now


class _ClockSpanProcessor(SpanProcessor):
    """Stamps start and end times from the clock; runs before the in-memory exporter's processor."""

    def __init__(self, clock: _Clock) -> None:
        self._clock = clock

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        span._start_time = self._clock.tick()

    def on_end(self, span: ReadableSpan) -> None:
        span._end_time = self._clock.tick()  # type: ignore[attr-defined]


class _ClockLogProcessor(LogRecordProcessor):
    def __init__(self, clock: _Clock) -> None:
        self._clock = clock

    def on_emit(self, log_record: Any) -> None:
        stamp = self._clock.tick()
        log_record.log_record.timestamp = stamp
        log_record.log_record.observed_timestamp = stamp

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


# --- metrics as plain values -----------------------------------------------------------------------


@dataclass(frozen=True)
class HistogramValue:
    """One histogram series: how many values, their sum, min and max, and the bucket counts."""

    count: int
    sum: float
    min: float
    max: float
    bucket_counts: tuple[int, ...]
    explicit_bounds: tuple[float, ...]

    def merged(self, other: HistogramValue) -> HistogramValue:
        counts = self.bucket_counts
        if len(other.bucket_counts) == len(counts):
            counts = tuple(a + b for a, b in zip(counts, other.bucket_counts, strict=True))
        return HistogramValue(
            self.count + other.count,
            self.sum + other.sum,
            min(self.min, other.min),
            max(self.max, other.max),
            counts,
            self.explicit_bounds,
        )


def _key(attributes: Mapping[str, Any] | None) -> Attributes:
    return tuple(sorted((attributes or {}).items()))


#: Counters and histograms are read as deltas and added up (events since the capture or the last
#: ``clear()``); up-down counters and gauges are read as their current value.
_DELTA: dict[type, AggregationTemporality] = {
    Counter: AggregationTemporality.DELTA,
    ObservableCounter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
}


class _MetricTotals:
    """What the in-memory reader collected, accumulated across reads until ``clear()``."""

    def __init__(self, reader: InMemoryMetricReader) -> None:
        self._reader = reader
        self._lock = threading.Lock()
        self.values: dict[str, dict[Attributes, Any]] = {}
        self.units: dict[str, str] = {}

    def collect(self) -> None:
        data = self._reader.get_metrics_data()
        if data is None:
            return
        with self._lock:
            for resource_metrics in data.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        self.units[metric.name] = metric.unit or ""
                        series = self.values.setdefault(metric.name, {})
                        self._add(series, metric.data)

    @staticmethod
    def _add(series: dict[Attributes, Any], data: Any) -> None:
        adds = isinstance(data, Sum) and data.aggregation_temporality is AggregationTemporality.DELTA
        for point in data.data_points:
            key = _key(point.attributes)
            if isinstance(data, HistogramData):
                value = HistogramValue(
                    point.count,
                    point.sum,
                    point.min,
                    point.max,
                    tuple(point.bucket_counts),
                    tuple(point.explicit_bounds),
                )
                before = series.get(key)
                series[key] = before.merged(value) if before is not None else value
            elif adds:
                series[key] = series.get(key, 0) + point.value
            elif isinstance(data, Sum | Gauge):
                series[key] = point.value
            else:  # exponential histograms: their count and sum
                series[key] = HistogramValue(point.count, point.sum, point.min, point.max, (), ())

    def clear(self) -> None:
        self._reader.get_metrics_data()  # what was recorded so far is read and dropped
        with self._lock:
            self.values.clear()


class CapturedTelemetry:
    """What the pipeline exported during a capture, and the pipeline's handle."""

    def __init__(
        self,
        observability: Any,
        span_exporter: InMemorySpanExporter,
        log_exporter: InMemoryLogRecordExporter,
        metric_reader: InMemoryMetricReader,
    ) -> None:
        #: The ``Observability`` handle ``configure()`` returned (settings, providers, audit trail).
        self.observability = observability
        self.span_exporter = span_exporter
        self.log_exporter = log_exporter
        self.metric_reader = metric_reader
        self._totals = _MetricTotals(metric_reader)

    @property
    def settings(self) -> Any:
        return self.observability.settings

    @property
    def audit(self) -> Any:
        """The audit trail (in a temporary folder), or None when ``enable_audit`` is off."""
        return self.observability.audit

    # spans and logs ---------------------------------------------------------------------------------
    def spans(self) -> list[ReadableSpan]:
        """Finished spans, in the order they ended, after redaction."""
        return list(self.span_exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        """The one finished span called ``name`` (an AssertionError lists the names there are)."""
        found = [span for span in self.spans() if span.name == name]
        assert len(found) == 1, f"{len(found)} spans named {name!r}; finished: {self.span_names()}"
        return found[0]

    def span_names(self) -> list[str]:
        return [span.name for span in self.spans()]

    def logs(self) -> list[ReadableLogRecord]:
        """Log records (StructuredLogger, the stdlib bridge, the agent helpers), after redaction."""
        return list(self.log_exporter.get_finished_logs())

    def log_bodies(self) -> list[Any]:
        return [record.log_record.body for record in self.logs()]

    # metrics ----------------------------------------------------------------------------------------
    def metrics(self) -> dict[str, dict[Attributes, Any]]:
        """Metric name -> attributes -> value, read now.

        Counters and histograms hold what was recorded since the capture began (or the last
        :meth:`clear`); up-down counters and gauges their current value. A histogram's value is a
        :class:`HistogramValue`; attributes are a sorted tuple of ``(key, value)`` pairs.
        """
        self._totals.collect()
        return {name: dict(series) for name, series in self._totals.values.items()}

    def value(self, name: str, attributes: Mapping[str, Any] | None = None) -> Any:
        """The value of ``name`` summed over the series whose attributes include ``attributes``.

        0 when the metric exists and no series matches; an AssertionError when nothing was ever
        recorded under ``name`` (so a test of an absence cannot pass because of a typo).
        """
        found = self.metrics()
        assert name in found, f"no metric {name!r}; recorded: {sorted(found)}"
        wanted = set((attributes or {}).items())
        matching = [value for key, value in found[name].items() if wanted <= set(key)]
        if not matching:
            return 0
        total = matching[0]
        for value in matching[1:]:
            total = total.merged(value) if isinstance(total, HistogramValue) else total + value
        return total

    def unit(self, name: str) -> str:
        self._totals.collect()
        return self._totals.units[name]

    def clear(self) -> None:
        """Forget every span, log record and metric value recorded so far."""
        self.span_exporter.clear()
        self.log_exporter.clear()
        self._totals.clear()


@contextmanager
def capture_telemetry(
    service_name: str = "test-service",
    *,
    deterministic: bool = False,
    environ: Mapping[str, str] | None = None,
    **settings: Any,
) -> Iterator[CapturedTelemetry]:
    """Configure kaizen_otel for the block with in-memory exporters, then reset everything.

    ``settings`` are ``configure()`` arguments (``budget_run_usd=0.01, budget_enforce=True``);
    the environment is read as ``configure()`` reads it, unless ``environ`` is given (``{}`` for
    the defaults only). The exporter settings are replaced: nothing leaves the process, no port
    is opened, and an enabled audit trail writes to a temporary folder removed afterwards.
    ``deterministic=True`` numbers trace and span ids 1, 2, 3... and stamps span and log times
    from a clock that advances one second per event, for snapshot tests.
    """
    from kaizen_otel._internal import setup
    from kaizen_otel._internal.settings import resolve

    reset_globals()
    overrides: dict[str, Any] = {"service_name": service_name, **settings}
    overrides.update(
        traces_exporter=("none",),
        metrics_exporter=("none",),
        logs_exporter=("none",),
        prometheus_enabled=False,
    )
    folder = None
    if resolve(overrides, environ=environ).settings.enable_audit:
        folder = tempfile.mkdtemp(prefix="kaizen-otel-test-audit-")
        overrides["audit_path"] = f"{folder}/audit.jsonl"
    span_exporter = InMemorySpanExporter()
    log_exporter = InMemoryLogRecordExporter()
    reader = InMemoryMetricReader(preferred_temporality=_DELTA)
    clock = _Clock() if deterministic else None

    def extend(pipeline: Any) -> None:
        if pipeline.tracer_provider is not None:
            if deterministic:
                pipeline.tracer_provider.id_generator = SequentialIdGenerator()
            if clock is not None:
                pipeline.tracer_provider.add_span_processor(_ClockSpanProcessor(clock))
            pipeline.tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
        if pipeline.meter_provider is not None:
            pipeline.meter_provider.add_metric_reader(reader)
        if pipeline.logger_provider is not None:
            if clock is not None:
                pipeline.logger_provider.add_log_record_processor(_ClockLogProcessor(clock))
            pipeline.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))

    token = otel_context.attach(otel_context.Context())  # no span of an outer test leaks in
    try:
        handle = setup.configure_once(overrides, origin="capture_telemetry()", environ=environ, extend=extend)
        try:
            yield CapturedTelemetry(handle, span_exporter, log_exporter, reader)
        finally:
            reset_globals()
    finally:
        otel_context.detach(token)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
