"""Self-monitoring: how much telemetry was exported, failed or dropped, per signal.

The SDK logs "Queue full, dropping" once and otherwise loses data silently. Counting here, at the
exporter and at the batch queue, lets an alert see telemetry loss (``kaizen_telemetry_*_total``
on ``/metrics``) and lets ``/readyz`` report an exporter that keeps failing.

Counting costs one integer add per exported batch and nothing per span or log record: drops are
counted where the SDK itself discards an item.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from kaizen_otel._internal.export_attempts import observe_attempts

_log = logging.getLogger("kaizen_otel.selfmon")

SIGNALS = ("traces", "metrics", "logs")
OVERFLOW_ATTRIBUTE = "otel.metric.overflow"
OVERFLOW_METRIC = "kaizen.telemetry.metric_overflow"


class SignalStats:
    """Counters for one signal. Written under the GIL by few threads; read by metric callbacks."""

    __slots__ = (
        "dropped",
        "exported",
        "failed",
        "failed_attempts",
        "last_attempt_failure",
        "last_failure",
        "last_success",
    )

    def __init__(self) -> None:
        self.exported = 0
        self.failed = 0
        self.dropped = 0
        self.failed_attempts = 0
        self.last_success = 0.0
        self.last_failure = 0.0
        self.last_attempt_failure = 0.0

    @property
    def failing(self) -> bool:
        """True while the most recent export (after the exporter's retries) failed."""
        return self.last_failure > self.last_success

    @property
    def retrying(self) -> bool:
        """True from the first failed attempt until an export succeeds again."""
        return self.last_attempt_failure > self.last_success

    def __repr__(self) -> str:
        return (
            f"SignalStats(exported={self.exported}, failed={self.failed}, dropped={self.dropped}, "
            f"failed_attempts={self.failed_attempts}, last_success={self.last_success}, "
            f"last_failure={self.last_failure})"
        )


class TelemetryStats:
    """Self-monitoring state of one configured pipeline.

    Plain classes rather than dataclasses here and in ``providers.Pipeline``: these modules are
    imported by every ``configure()``, and a dataclass compiles its generated methods at import.
    """

    def __init__(self) -> None:
        self.signals: dict[str, SignalStats] = {s: SignalStats() for s in SIGNALS}
        self._lock = threading.Lock()
        self.overflowed: set[str] = set()
        #: Items handed to an exporter whose result has not come back yet, per signal.
        self.in_flight: dict[str, int] = dict.fromkeys(SIGNALS, 0)
        #: Measurements whose label values were cut to ``metric_label_max_length``.
        self.truncated_label_values = 0
        self._abandoned = False

    def forget(self) -> None:
        """In a forked child: the parent's counts are the parent's to export."""
        self._lock = threading.Lock()
        self.signals = {s: SignalStats() for s in SIGNALS}
        self.in_flight = dict.fromkeys(SIGNALS, 0)
        self.truncated_label_values = 0

    def start_export(self, signal: str, count: int) -> None:
        with self._lock:
            self.in_flight[signal] += count

    def record_export(self, signal: str, count: int, ok: bool) -> None:
        stats = self.signals[signal]
        now = time.time()
        with self._lock:
            self.in_flight[signal] -= count
            if self._abandoned:  # already counted as lost by abandon()
                return
            if ok:
                stats.exported += count
                stats.last_success = now
            else:
                stats.failed += count
                stats.last_failure = now

    def record_attempt_failure(self, signal: str) -> None:
        """One send attempt failed; the exporter may still retry it (seen before its retries)."""
        stats = self.signals[signal]
        with self._lock:
            stats.failed_attempts += 1
            stats.last_attempt_failure = time.time()

    def record_truncation(self) -> None:
        self.truncated_label_values += 1  # one writer at a time is not needed: a lost add is harmless

    def record_drop(self, signal: str, count: int = 1) -> None:
        with self._lock:
            self.signals[signal].dropped += count

    def failing_signals(self) -> list[str]:
        return [name for name, stats in self.signals.items() if stats.failing]

    def not_ready_reasons(self) -> list[str]:
        """``/readyz`` reasons: an exporter whose export failed, or that is retrying a failed attempt."""
        reasons = []
        for name, stats in self.signals.items():
            if stats.failing:
                reasons.append(f"{name} exporter failing")
            elif stats.retrying:
                reasons.append(f"{name} exporter retrying")
        return reasons

    def abandon(self) -> dict[str, int]:
        """At the end of a timed-out shutdown: count exports still in flight as dropped.

        Results that come back later are ignored, so nothing is counted twice.
        """
        with self._lock:
            self._abandoned = True
            lost = {signal: count for signal, count in self.in_flight.items() if count}
            for signal, count in lost.items():
                self.signals[signal].dropped += count
        return lost

    def totals(self) -> dict[str, tuple[int, int]]:
        """``{signal: (failed, dropped)}`` now: to tell what a shutdown lost."""
        return {name: (stats.failed, stats.dropped) for name, stats in self.signals.items()}

    def register_instruments(self, meter: Meter) -> None:
        """Expose the counters as observable counters (read only when metrics are collected)."""

        def reader(attribute: str) -> Any:
            def observe(_options: CallbackOptions) -> Iterable[Observation]:
                for name, stats in self.signals.items():
                    yield Observation(getattr(stats, attribute), {"signal": name})

            return observe

        meter.create_observable_counter(
            "kaizen.telemetry.exported",
            [reader("exported")],
            unit="{item}",
            description="Spans, metric points and log records exported successfully.",
        )
        meter.create_observable_counter(
            "kaizen.telemetry.failed",
            [reader("failed")],
            unit="{item}",
            description="Spans, metric points and log records an exporter failed to send.",
        )
        meter.create_observable_counter(
            "kaizen.telemetry.failed_attempts",
            [reader("failed_attempts")],
            unit="{attempt}",
            description="Export attempts that failed, counted at once, before the exporter's retries.",
        )
        meter.create_observable_counter(
            "kaizen.telemetry.dropped",
            [reader("dropped")],
            unit="{item}",
            description="Spans and log records dropped because the export queue was full.",
        )
        meter.create_observable_counter(
            "kaizen.telemetry.truncated_label_values",
            [self._observe_truncations],
            unit="{measurement}",
            description="Measurements with a label value cut to metric_label_max_length.",
        )
        meter.create_observable_gauge(
            OVERFLOW_METRIC,
            [self._observe_overflow],
            unit="{metric}",
            description="Metrics whose series count reached the cardinality limit.",
        )

    def _observe_truncations(self, _options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(self.truncated_label_values)

    def _observe_overflow(self, _options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(len(self.overflowed))

    def check_overflow(self, metrics_data: MetricsData, limit: int) -> MetricsData:
        """Warn once per metric whose series were folded into ``otel_metric_overflow``.

        Returns the data with ``kaizen.telemetry.metric_overflow`` set to the count this very
        collection found: its callback ran before the check, and a scrape that holds an overflow
        series must not say 0 overflowed metrics.
        """
        before = len(self.overflowed)
        for resource_metrics in metrics_data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    points = metric.data.data_points
                    if len(points) < limit or metric.name in self.overflowed:
                        continue
                    if any(p.attributes and OVERFLOW_ATTRIBUTE in p.attributes for p in points):
                        self.overflowed.add(metric.name)
                        _log.warning(
                            "metric %r reached the cardinality limit of %d series; further "
                            "attribute sets are folded into one series labelled "
                            'otel_metric_overflow="true" (raise metric_cardinality_limit / '
                            "KAIZEN_OTEL_METRIC_CARDINALITY_LIMIT, or drop high-cardinality "
                            "attributes)",
                            metric.name,
                            limit,
                        )
        if len(self.overflowed) == before:
            return metrics_data
        return _with_value(metrics_data, OVERFLOW_METRIC, len(self.overflowed))


def _with_value(metrics_data: MetricsData, name: str, value: int) -> MetricsData:
    """A copy of ``metrics_data`` where every data point of metric ``name`` holds ``value``."""

    def metric(m: Any) -> Any:
        if m.name != name:
            return m
        points = [dataclasses.replace(p, value=value) for p in m.data.data_points]
        return dataclasses.replace(m, data=dataclasses.replace(m.data, data_points=points))

    return dataclasses.replace(
        metrics_data,
        resource_metrics=[
            dataclasses.replace(
                rm,
                scope_metrics=[
                    dataclasses.replace(sm, metrics=[metric(m) for m in sm.metrics])
                    for sm in rm.scope_metrics
                ],
            )
            for rm in metrics_data.resource_metrics
        ],
    )


class CountingSpanExporter(SpanExporter):
    """Wraps a span exporter to count what it exported and what failed; never raises."""

    def __init__(self, inner: SpanExporter, stats: TelemetryStats) -> None:
        self._inner = inner
        self._stats = stats
        self._closed = False
        observe_attempts(inner, partial(stats.record_attempt_failure, "traces"))

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._stats.start_export("traces", len(spans))
        try:
            result = self._inner.export(spans)
        except Exception:  # an exporter must never raise into the batch thread
            _log.exception("span exporter %s raised", type(self._inner).__name__)
            result = SpanExportResult.FAILURE
        self._stats.record_export("traces", len(spans), result is SpanExportResult.SUCCESS)
        return result

    def shutdown(self) -> None:
        if not self._closed:
            self._closed = True
            self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class CountingLogExporter(LogRecordExporter):
    """Wraps a log exporter to count what it exported and what failed; never raises."""

    def __init__(self, inner: LogRecordExporter, stats: TelemetryStats) -> None:
        self._inner = inner
        self._stats = stats
        self._closed = False
        observe_attempts(inner, partial(stats.record_attempt_failure, "logs"))

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self._stats.start_export("logs", len(batch))
        try:
            result = self._inner.export(batch)
        except Exception:
            _log.exception("log exporter %s raised", type(self._inner).__name__)
            result = LogRecordExportResult.FAILURE
        self._stats.record_export("logs", len(batch), result is LogRecordExportResult.SUCCESS)
        return result

    def shutdown(self) -> None:
        if not self._closed:
            self._closed = True
            self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class CountingMetricExporter(MetricExporter):
    """Wraps a push metric exporter: counts data points, warns on cardinality overflow."""

    def __init__(self, inner: MetricExporter, stats: TelemetryStats, cardinality_limit: int) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self._inner = inner
        self._stats = stats
        self._limit = cardinality_limit
        self._closed = False
        observe_attempts(inner, partial(stats.record_attempt_failure, "metrics"))

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        metrics_data = self._stats.check_overflow(metrics_data, self._limit)
        points = sum(
            len(metric.data.data_points)
            for rm in metrics_data.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
        )
        self._stats.start_export("metrics", points)
        try:
            result = self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        except Exception:
            _log.exception("metric exporter %s raised", type(self._inner).__name__)
            result = MetricExportResult.FAILURE
        self._stats.record_export("metrics", points, result is MetricExportResult.SUCCESS)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        if not self._closed:
            self._closed = True
            self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)


class _DropCountingMetrics:
    """Sits where the SDK's batch processor reports its own drops (``drop_items``).

    The SDK calls ``drop_items`` exactly where it discards an item (queue full, or emitted after
    shutdown), so counting there is exact; predicting a drop from the queue length before handing
    the item over would race with the export thread. The SDK's own internal metrics (off unless
    ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``) still receive every call.
    """

    def __init__(self, inner: Any, stats: TelemetryStats, signal: str) -> None:
        self._inner = inner
        self._stats = stats
        self._signal = signal

    def register_queue_size(self, get_queue_size: Any) -> None:
        self._inner.register_queue_size(get_queue_size)

    def drop_items(self, count: int, error_type: str = "queue_full") -> None:
        self._stats.record_drop(self._signal, count)
        self._inner.drop_items(count, error_type)

    def finish_items(self, count: int) -> None:
        self._inner.finish_items(count)


def _count_drops(processor: Any, stats: TelemetryStats, signal: str) -> None:
    batch = getattr(processor, "_batch_processor", None)
    inner = getattr(batch, "_metrics", None)
    if inner is None:
        _log.warning("this OpenTelemetry SDK hides its batch queue; dropped %s are not counted", signal)
        return
    batch._metrics = _DropCountingMetrics(inner, stats, signal)  # type: ignore[union-attr]


class _BoundedShutdown:
    """Shutdown within a time limit, for the SDK's batch processors.

    The SDK's ``shutdown()`` waits up to 30 s for the queue to drain, while the exporter retries a
    dead backend for another 10 s per batch. Given a limit, the SDK's own mechanism stops the drain
    at the limit and shuts the exporter down, which aborts its retries and open calls.
    """

    _batch_processor: Any
    shutdown_timeout_millis: float = 30_000

    def shutdown(self) -> None:
        self._batch_processor.shutdown(timeout_millis=self.shutdown_timeout_millis)

    def pending(self) -> int:
        """Items still queued (after a timed-out shutdown: what was never exported)."""
        queue = getattr(self._batch_processor, "_queue", None)
        return len(queue) if queue is not None else 0


class CountingBatchSpanProcessor(_BoundedShutdown, BatchSpanProcessor):
    """The SDK's batch processor, counting the spans it drops (queue full, after shutdown)."""

    def __init__(
        self,
        exporter: SpanExporter,
        stats: TelemetryStats,
        shutdown_timeout_millis: float = 30_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(exporter, **kwargs)
        self.shutdown_timeout_millis = shutdown_timeout_millis
        _count_drops(self, stats, "traces")


class CountingBatchLogRecordProcessor(_BoundedShutdown, BatchLogRecordProcessor):
    """The SDK's batch processor, counting the log records it drops (queue full, after shutdown)."""

    def __init__(
        self,
        exporter: LogRecordExporter,
        stats: TelemetryStats,
        shutdown_timeout_millis: float = 30_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(exporter, **kwargs)
        self.shutdown_timeout_millis = shutdown_timeout_millis
        _count_drops(self, stats, "logs")


__all__ = [
    "CountingBatchLogRecordProcessor",
    "CountingBatchSpanProcessor",
    "CountingLogExporter",
    "CountingMetricExporter",
    "CountingSpanExporter",
    "TelemetryStats",
]
