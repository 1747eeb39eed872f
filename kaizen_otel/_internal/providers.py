"""Build the three OTel providers, their exporters and the HTTP server from ``Settings``.

Building is kept apart from installing the globals (``setup.py`` does that, once, under a lock),
so a builder can be used by tests with local providers and a second ``configure()`` never builds
a second set of exporters and threads.

Exporter modules are imported only when a signal uses them: importing the gRPC stack alone costs
~100 ms, and the embedded default (Prometheus + console logs) never needs it.
"""

from __future__ import annotations

import errno
import importlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics import _Gauge as Gauge
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import DropAggregation, ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from prometheus_client import REGISTRY, CollectorRegistry

from kaizen_otel._internal.measurements import MeasurementRules, apply_measurement_rules
from kaizen_otel._internal.resource import build_resource
from kaizen_otel._internal.selfmon import (
    CountingBatchLogRecordProcessor,
    CountingBatchSpanProcessor,
    CountingLogExporter,
    CountingMetricExporter,
    CountingSpanExporter,
    TelemetryStats,
)
from kaizen_otel._internal.settings import Settings
from kaizen_otel._internal.span_dispatch import HookDispatchingSpanProcessor
from kaizen_otel.exceptions import KaizenConfigError
from kaizen_otel.genai import semconv as sc
from kaizen_otel.genai.enrichment import RecordGenAISpans
from kaizen_otel.genai.instruments import SPANS_MEASURED
from kaizen_otel.server import ReadinessCheck, TelemetryServer

_log = logging.getLogger("kaizen_otel.providers")

_OTLP_MODULES = {
    ("traces", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "OTLPSpanExporter"),
    ("traces", "http/protobuf"): (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "OTLPSpanExporter",
    ),
    ("metrics", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc.metric_exporter", "OTLPMetricExporter"),
    ("metrics", "http/protobuf"): (
        "opentelemetry.exporter.otlp.proto.http.metric_exporter",
        "OTLPMetricExporter",
    ),
    ("logs", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc._log_exporter", "OTLPLogExporter"),
    ("logs", "http/protobuf"): ("opentelemetry.exporter.otlp.proto.http._log_exporter", "OTLPLogExporter"),
}


class Pipeline:
    """What was built for one configuration; nothing here is global yet."""

    def __init__(self, settings: Settings, resource: Resource, stats: TelemetryStats) -> None:
        self.settings = settings
        self.resource = resource
        self.stats = stats
        self.tracer_provider: TracerProvider | None = None
        self.meter_provider: MeterProvider | None = None
        self.logger_provider: LoggerProvider | None = None
        self.server: TelemetryServer | None = None
        self.prometheus_reader: PrometheusMetricReader | None = None
        #: With ``prometheus_multiproc_dir``: writes this process's metrics for the merged /metrics.
        self.multiproc_reader: MetricReader | None = None
        #: Puts prometheus-client's default collectors back (taken off while ours are served).
        self.restore_collectors: Callable[[], None] | None = None
        self.problems: list[str] = []
        #: Batch processors by signal, to tell what a timed-out shutdown left unexported.
        self.batch_processors: list[tuple[str, Any]] = []

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        ok = True
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            if provider is not None:
                try:
                    ok = bool(provider.force_flush(timeout_millis)) and ok
                except Exception:
                    _log.exception("flushing %s failed", type(provider).__name__)
                    ok = False
        return ok

    def shutdown(self, timeout_millis: float | None = None) -> dict[str, int]:
        """Flush and stop everything this pipeline opened, within ``timeout_millis``.

        The three providers shut down side by side (one dead signal does not eat the others'
        time), each told to give up at 80 % of the limit: the SDK then shuts its exporters down,
        which aborts their retries, and the rest of the limit lets that abort land. A provider
        still busy at the limit is left to its daemon threads. Returns ``{signal: items}`` queued
        or in flight at the end: never exported, and counted as dropped here.
        """
        limit = self.settings.shutdown_timeout_ms if timeout_millis is None else timeout_millis
        deadline = time.monotonic() + limit / 1000
        for _signal, processor in self.batch_processors:
            processor.shutdown_timeout_millis = limit * 0.8
        steps: list[Callable[[], None]] = [
            partial(_shutdown_provider, provider, limit * 0.8)
            for provider in (self.tracer_provider, self.meter_provider, self.logger_provider)
            if provider is not None
        ]
        if self.server is not None:
            steps.append(self.server.stop)
        workers = [threading.Thread(target=step, name="kaizen-otel-shutdown", daemon=True) for step in steps]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        left = self.stats.abandon()
        for signal, processor in self.batch_processors:
            if pending := processor.pending():
                self.stats.record_drop(signal, pending)
                left[signal] = left.get(signal, 0) + pending
        if self.restore_collectors is not None:
            self.restore_collectors()
            self.restore_collectors = None
        return left


def _shutdown_provider(provider: Any, timeout_millis: float) -> None:
    try:
        if isinstance(provider, MeterProvider):
            provider.shutdown(timeout_millis=timeout_millis)
        else:
            provider.shutdown()  # its batch processors carry the limit (selfmon._BoundedShutdown)
    except Exception:
        _log.exception("shutting down %s failed", type(provider).__name__)


def build_sampler(settings: Settings) -> Sampler:
    """The configured sampler, wrapped so GenAI spans are always recorded (see ``RecordGenAISpans``)."""
    name, ratio = settings.traces_sampler, settings.traces_sampler_arg
    root: Sampler
    if name.endswith("always_off"):
        root = ALWAYS_OFF
    elif name.endswith("traceidratio"):
        root = TraceIdRatioBased(ratio)
    else:
        root = ALWAYS_ON
    return RecordGenAISpans(ParentBased(root) if name.startswith("parentbased_") else root)


def otlp_exporter(settings: Settings, signal: str) -> Any:
    """The OTLP exporter for a signal, with the endpoint rules of the OTel specification.

    A signal-specific endpoint is used as is; the base endpoint gets ``/v1/<signal>`` appended
    for http/protobuf. Headers, timeouts and compression stay with the SDK, which reads its own
    ``OTEL_EXPORTER_OTLP_*`` variables. Certificates are ours (``otlp_certificate`` and the client
    pair): given one, the exporter always uses TLS, where the SDK would still send plaintext to an
    ``http://`` endpoint.
    """
    protocol = getattr(settings, f"otlp_{signal}_protocol") or settings.otlp_protocol
    endpoint = getattr(settings, f"otlp_{signal}_endpoint")
    if endpoint is None and settings.otlp_endpoint:
        endpoint = settings.otlp_endpoint
        if protocol == "http/protobuf":
            endpoint = endpoint.rstrip("/") + f"/v1/{signal}"
    module_name, class_name = _OTLP_MODULES[(signal, protocol)]
    exporter_class = getattr(importlib.import_module(module_name), class_name)
    kwargs: dict[str, Any] = {"endpoint": endpoint} if endpoint else {}
    if settings.otlp_certificate is not None:
        from kaizen_otel._internal.otlp_tls import tls_arguments

        kwargs.update(tls_arguments(settings, protocol, endpoint))
    return exporter_class(**kwargs)


class OverflowAwarePrometheusReader(PrometheusMetricReader):
    """The OTel Prometheus reader, warning once per metric that hits the cardinality limit.

    It also keeps ``/metrics`` valid after ``force_flush()``: the SDK reader queues the data of
    every collection and the next scrape renders all of them, so a flush between two scrapes
    repeated every family (promtool: "second HELP line"). Here only the latest collection is kept
    (cumulative data: the latest holds everything), and scrapes are serialised so two concurrent
    ones cannot take each other's data.
    """

    def __init__(self, stats: TelemetryStats, limit: int, registry: CollectorRegistry) -> None:
        super().__init__(
            scope_info_enabled=False,
            registry=registry,
            cardinality_limits=cardinality_limits(limit),
        )
        self._stats = stats
        self._limit = limit
        self._queued = getattr(self._collector, "_metrics_datas", None)
        render = self._collector.collect
        lock = threading.Lock()

        def collect() -> Any:
            with lock:
                return list(render())

        self._collector.collect = collect  # type: ignore[method-assign]

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        metrics_data = self._stats.check_overflow(metrics_data, self._limit)
        if self._queued is not None:
            self._queued.clear()
        super()._receive_metrics(metrics_data, timeout_millis, **kwargs)


def cardinality_limits(limit: int) -> dict[type, int]:
    kinds = (
        Counter,
        UpDownCounter,
        Histogram,
        Gauge,
        ObservableCounter,
        ObservableGauge,
        ObservableUpDownCounter,
    )
    return dict.fromkeys(kinds, limit)


#: (standard name, our instrument's name when spans are measured, bucket boundaries)
_GENAI_HISTOGRAMS = (
    (sc.METRIC_TOKEN_USAGE, sc.MEASURED_TOKEN_USAGE, sc.TOKEN_USAGE_BUCKETS),
    (sc.METRIC_OPERATION_DURATION, sc.MEASURED_OPERATION_DURATION, sc.OPERATION_DURATION_BUCKETS),
    (sc.METRIC_TIME_TO_FIRST_CHUNK, sc.MEASURED_TIME_TO_FIRST_CHUNK, sc.OPERATION_DURATION_BUCKETS),
    (sc.METRIC_TIME_PER_OUTPUT_CHUNK, sc.MEASURED_TIME_PER_OUTPUT_CHUNK, sc.OPERATION_DURATION_BUCKETS),
)


def genai_views(limit: int, *, spans_measured: bool = False) -> list[View]:
    """The spec's bucket boundaries for the two GenAI client histograms.

    With ``spans_measured`` (tracing on: the enrichment processor measures every GenAI span, ours
    and third-party ones) our histograms are created under names of their own and exported under
    the standard ones, and every other scope's histograms of the standard names are dropped
    (openai-v2's, util-genai's, anthropic's with unit ``token``): each call is measured once and
    each name is one family on ``/metrics``. A provider built with these views carries
    ``SPANS_MEASURED`` so the agent runtime knows which names to create.
    """
    views = []
    for name, measured, buckets in _GENAI_HISTOGRAMS:
        views.append(
            View(
                instrument_name=measured if spans_measured else name,
                name=name if spans_measured else None,
                aggregation=ExplicitBucketHistogramAggregation(list(buckets)),
                aggregation_cardinality_limit=limit,
            )
        )
        if spans_measured:
            drop = View(instrument_name=name, aggregation=DropAggregation())
            _DROPPED_VIEWS.add(drop)
            views.append(drop)
    if spans_measured:
        _quiet_dropped_conflicts()
    return views


def dropped_instruments(*, spans_measured: bool) -> frozenset[str]:
    """Instrument names whose every stream :func:`genai_views` drops (the standard GenAI client
    histograms of other scopes, while our own are created under other names)."""
    return frozenset(name for name, _, _ in _GENAI_HISTOGRAMS) if spans_measured else frozenset()


#: Our drop views: two dropped instruments of one name "conflict" only in the SDK's bookkeeping.
_DROPPED_VIEWS: weakref.WeakSet[View] = weakref.WeakSet()


class _DroppedConflictFilter(logging.Filter):
    """Silences the SDK's "conflicting metrics identities" warning between two dropped streams."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (len(args) == 2 and all(a in _DROPPED_VIEWS for a in args))


def _quiet_dropped_conflicts() -> None:
    storage_log = logging.getLogger("opentelemetry.sdk.metrics._internal.metric_reader_storage")
    if not any(isinstance(f, _DroppedConflictFilter) for f in storage_log.filters):
        storage_log.addFilter(_DroppedConflictFilter())


def _build_tracer_provider(
    settings: Settings, pipeline: Pipeline, first: Sequence[SpanProcessor]
) -> TracerProvider:
    resource, stats = pipeline.resource, pipeline.stats
    provider = TracerProvider(
        resource=resource,
        sampler=build_sampler(settings),
        shutdown_on_exit=False,
        active_span_processor=HookDispatchingSpanProcessor(),
    )
    for processor in first:
        provider.add_span_processor(processor)
    for name in settings.traces_exporter:
        if name == "otlp":
            exporter = otlp_exporter(settings, "traces")
        elif name == "console":
            exporter = _console_span_exporter(settings.console_format)
        else:
            continue
        processor = CountingBatchSpanProcessor(
            CountingSpanExporter(exporter, stats), stats, settings.shutdown_timeout_ms
        )
        pipeline.batch_processors.append(("traces", processor))
        provider.add_span_processor(processor)
    return provider


def _build_meter_provider(
    settings: Settings,
    resource: Resource,
    stats: TelemetryStats,
    pipeline: Pipeline,
    registry: CollectorRegistry,
) -> MeterProvider:
    readers: list[MetricReader] = []
    limit = settings.metric_cardinality_limit
    if pipeline.prometheus_reader is not None:
        readers.append(pipeline.prometheus_reader)
    if pipeline.multiproc_reader is not None:
        readers.append(pipeline.multiproc_reader)
    for name in settings.metrics_exporter:
        push: MetricExporter
        if name == "otlp":
            push = otlp_exporter(settings, "metrics")
        elif name == "console":
            push = ConsoleMetricExporter()
        else:
            continue
        readers.append(
            PeriodicExportingMetricReader(
                CountingMetricExporter(push, stats, limit),
                export_interval_millis=settings.metric_export_interval_ms,
            )
        )
    views = genai_views(limit, spans_measured=settings.enable_tracing)
    provider = MeterProvider(resource=resource, metric_readers=readers, views=views, shutdown_on_exit=False)
    setattr(provider, SPANS_MEASURED, settings.enable_tracing)
    rules = MeasurementRules(
        settings.metric_label_max_length, settings.metric_attributes, stats.record_truncation
    )
    apply_measurement_rules(provider, rules, dropped_instruments(spans_measured=settings.enable_tracing))
    return provider


def _console_span_exporter(fmt: str) -> Any:
    from kaizen_otel._internal.span_console import CompactConsoleSpanExporter

    return CompactConsoleSpanExporter(fmt=fmt)


def _console_log_exporter(fmt: str) -> Any:
    from kaizen_otel._internal.log_console import ConsoleLogExporter

    return ConsoleLogExporter(fmt=fmt)


def _build_logger_provider(
    settings: Settings, pipeline: Pipeline, first: Sequence[LogRecordProcessor]
) -> LoggerProvider:
    resource, stats = pipeline.resource, pipeline.stats
    provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    for processor in first:
        provider.add_log_record_processor(processor)
    for name in settings.logs_exporter:
        if name == "otlp":
            exporter = otlp_exporter(settings, "logs")
        elif name == "console":
            exporter = _console_log_exporter(settings.console_format)
        else:
            continue
        processor = CountingBatchLogRecordProcessor(
            CountingLogExporter(exporter, stats), stats, settings.shutdown_timeout_ms
        )
        pipeline.batch_processors.append(("logs", processor))
        provider.add_log_record_processor(processor)
    return provider


def wants_prometheus(settings: Settings) -> bool:
    """True when the settings ask for the HTTP server (``/metrics``, and the live view beside it)."""
    return _wants_prometheus(settings)


def _wants_prometheus(settings: Settings) -> bool:
    return (
        settings.enable_metrics and settings.prometheus_enabled and "prometheus" in settings.metrics_exporter
    )


def _default_port_taken(exc: BaseException, port_source: str) -> bool:
    cause = exc.__cause__
    return (
        port_source == "default"
        and isinstance(exc, KaizenConfigError)
        and exc.setting == "prometheus_port"
        and isinstance(cause, OSError)
        and cause.errno == errno.EADDRINUSE
    )


def build_pipeline(
    settings: Settings,
    *,
    strict: bool = True,
    port_source: str = "default",
    host_source: str = "default",
    registry: CollectorRegistry = REGISTRY,
    readiness: ReadinessCheck | None = None,
    span_processors: Sequence[SpanProcessor] = (),
    log_processors: Sequence[LogRecordProcessor] = (),
) -> Pipeline:
    """Build providers, readers, exporters and the HTTP server for ``settings``.

    The server binds first, before any thread is started, so a taken port fails fast and leaves
    nothing half-built. A port the user chose (argument or environment) that is taken raises; with
    ``strict=False`` (auto-instrumentation), or when the port is only the default 9464 (a second
    application on the same machine, a spawned worker), it is logged and the process continues
    with the Prometheus endpoint disabled: turning telemetry on must not stop an application
    that starts without it.
    """
    stats = TelemetryStats()
    pipeline = Pipeline(settings=settings, resource=build_resource(settings), stats=stats)
    if settings.sdk_disabled:
        return pipeline
    multiproc = settings.prometheus_multiproc_dir if _wants_prometheus(settings) else None
    if multiproc is not None:
        from kaizen_otel._internal.multiproc import merged_registry, multiproc_reader

        try:
            registry = merged_registry(multiproc)
        except Exception as exc:
            if strict:
                raise
            multiproc = None
            pipeline.problems.append(f"{exc}; serving this process's metrics only")
            _log.error("%s", pipeline.problems[-1])
        else:
            pipeline.multiproc_reader = multiproc_reader(multiproc, stats, settings.metric_cardinality_limit)
    if _wants_prometheus(settings):
        try:
            pipeline.server = TelemetryServer(
                settings.prometheus_host,
                settings.prometheus_port,
                registry=registry,
                readiness=readiness,
                port_source=port_source,
                host_source=host_source,
                reuse_port=multiproc is not None,
            )
        except Exception as exc:
            if strict and not _default_port_taken(exc, port_source):
                raise
            message = f"{exc}; continuing with the Prometheus endpoint disabled"
            pipeline.problems.append(message)
            _log.error("%s", message)
        else:
            if multiproc is None:
                pipeline.prometheus_reader = OverflowAwarePrometheusReader(
                    stats, settings.metric_cardinality_limit, registry
                )
            if settings.process_metrics and settings.enable_metrics:
                from kaizen_otel.genai.process_metrics import hide_default_collectors

                pipeline.restore_collectors = hide_default_collectors(registry)
    try:
        if settings.enable_tracing:
            pipeline.tracer_provider = _build_tracer_provider(settings, pipeline, span_processors)
        if settings.enable_metrics:
            pipeline.meter_provider = _build_meter_provider(
                settings, pipeline.resource, stats, pipeline, registry
            )
            stats.register_instruments(pipeline.meter_provider.get_meter("kaizen_otel"))
        if settings.enable_logging:
            pipeline.logger_provider = _build_logger_provider(settings, pipeline, log_processors)
    except Exception:
        pipeline.shutdown()
        raise
    return pipeline
