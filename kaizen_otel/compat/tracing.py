"""``TracingManager``: the documents' Jaeger tracing setup, as an OTLP exporter on our TracerProvider.

Jaeger takes OTLP natively, so ``jaeger_host``/``jaeger_port``/``insecure`` are an OTLP/gRPC
endpoint (with ``insecure=False``, TLS verified with the ``otlp_certificate`` setting's CA and
client pair when they are set, else the system's roots), and ``batch_size``/``batch_timeout_ms``/
``max_export_batch_size`` the batch span processor's ``max_queue_size``/``schedule_delay_millis``/
``max_export_batch_size``. The manager adds that processor to the process's TracerProvider (the
one ``configure()`` installed, with its sampler, redaction and self-monitoring) instead of
building a provider of its own, which OpenTelemetry would ignore after the first.

* One exporter per endpoint: managers naming the same endpoint share one processor, which stays
  attached to the provider until it shuts down (bounded by the number of endpoints), and an
  endpoint the pipeline already exports to (``OTEL_EXPORTER_OTLP_ENDPOINT``) is not added twice.
* ``jaeger_host=None`` means: the pipeline's OTLP endpoint when one is configured; the process's
  own span exporters when they were chosen explicitly (``OTEL_TRACES_EXPORTER``, ``configure(
  traces_exporter=...)``, ``kaizen_otel.testing.capture_telemetry()``); else ``localhost:4317``
  (the documents' default).
* ``service.name`` belongs to the process's resource. A manager with another service name puts
  it on its spans as ``gen_ai.agent.name``.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.util._decorator import _agnosticcontextmanager

from kaizen_otel._internal.resets import on_reset
from kaizen_otel.compat._process import (
    DEFAULT_SERVICE_NAME,
    check_flag,
    check_text,
    flush_within,
    process_handle,
)
from kaizen_otel.exceptions import KaizenConfigError
from kaizen_otel.genai import semconv as sc

__all__ = ["MAX_ENDPOINTS", "TracingManager"]

_log = logging.getLogger("kaizen_otel.compat")
_SCOPE = "kaizen_otel.compat"
_DEFAULT_HOST = "localhost"


class _AgentTracer(trace.Tracer):
    """A tracer that adds fixed attributes (the manager's identity) to every span it starts."""

    def __init__(self, tracer: trace.Tracer, attributes: Mapping[str, Any]) -> None:
        self._tracer = tracer
        self._attributes = dict(attributes)

    def _merged(self, attributes: Any) -> dict[str, Any]:
        return {**self._attributes, **(attributes or {})}

    def start_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Any = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        return self._tracer.start_span(
            name,
            context,
            kind,
            self._merged(attributes),
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )

    @_agnosticcontextmanager
    def start_as_current_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Any = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[Span]:
        with self._tracer.start_as_current_span(
            name,
            context,
            kind,
            self._merged(attributes),
            links,
            start_time,
            record_exception,
            set_status_on_exception,
            end_on_exit,
        ) as span:
            yield span


class _SharedExport:
    """One batch processor + OTLP exporter for one endpoint, and how many managers use it now."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor
        self.users = 0


#: Distinct endpoints per TracerProvider, each with its exporter and batch thread; past it, a
#: manager naming a new one is refused (memory and threads stay bounded).
MAX_ENDPOINTS = 32
_EXPORTS: weakref.WeakKeyDictionary[Any, dict[tuple[str, bool], _SharedExport]] = weakref.WeakKeyDictionary()
_EXPORTS_LOCK = threading.Lock()
on_reset("compat.tracing", _EXPORTS.clear)


def _check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    if not ok or (maximum is not None and value > maximum):
        allowed = f"an integer from {minimum} to {maximum}" if maximum else f"an integer >= {minimum}"
        raise KaizenConfigError(name, value, allowed)
    return int(value)


def _pipeline_endpoint(handle: Any) -> str | None:
    """``host:port`` the configured pipeline sends spans to over OTLP/gRPC, if it does."""
    settings = handle.settings if handle is not None else None
    if settings is None or "otlp" not in settings.traces_exporter:
        return None
    if (settings.otlp_traces_protocol or settings.otlp_protocol) != "grpc":
        return None
    endpoint = settings.otlp_traces_endpoint or settings.otlp_endpoint
    if not endpoint:
        return "localhost:4317"  # the SDK's own default
    parsed = urlparse(endpoint if "://" in endpoint else f"http://{endpoint}")
    return parsed.netloc or None


def _exporters_chosen(handle: Any) -> bool:
    """True when the span exporters were set on purpose (``OTEL_TRACES_EXPORTER``, an argument,
    ``capture_telemetry()``), not derived from defaults: that choice wins over the documents' Jaeger."""
    sources = getattr(handle, "sources", None) or {}
    return not str(sources.get("traces_exporter", "default")).startswith("default")


class TracingManager:
    """Spans of agent events, exported over OTLP/gRPC to Jaeger (or any OTLP receiver)."""

    def __init__(
        self,
        service_name: str = DEFAULT_SERVICE_NAME,
        jaeger_host: str | None = None,
        jaeger_port: int = 4317,
        insecure: bool = True,
        batch_size: int = 512,
        batch_timeout_ms: int = 5000,
        max_export_batch_size: int = 512,
    ) -> None:
        self.service_name = check_text("service_name", service_name)
        if jaeger_host is not None:
            check_text("jaeger_host", jaeger_host)
        self.jaeger_port = _check_int("jaeger_port", jaeger_port, 1, 65535)
        self.insecure = check_flag("insecure", insecure)
        self.batch_size = _check_int("batch_size", batch_size, 1)
        self.batch_timeout_ms = _check_int("batch_timeout_ms", batch_timeout_ms, 1)
        self.max_export_batch_size = _check_int("max_export_batch_size", max_export_batch_size, 1)
        if self.max_export_batch_size > self.batch_size:
            raise KaizenConfigError(
                "max_export_batch_size", max_export_batch_size, f"at most batch_size ({batch_size})"
            )
        self._closed = False
        self._shared: _SharedExport | None = None
        handle = process_handle(service_name, "TracingManager")
        self._handle = handle
        provider: Any = handle.tracer_provider if handle is not None else None
        if provider is None and hasattr(trace.get_tracer_provider(), "add_span_processor"):
            provider = trace.get_tracer_provider()  # an SDK provider another library installed
        self.tracer_provider: Any = provider
        existing = _pipeline_endpoint(handle)
        #: ``host:port`` this manager's spans are sent to over OTLP/gRPC; None when they go
        #: wherever the process's own span exporters send them.
        self.endpoint: str | None
        if jaeger_host is None and (existing is not None or _exporters_chosen(handle)):
            self.jaeger_host = existing.rsplit(":", 1)[0] if existing else None
            self.jaeger_port = int(existing.rsplit(":", 1)[1]) if existing else self.jaeger_port
            self.endpoint = existing
        else:
            self.jaeger_host = jaeger_host or _DEFAULT_HOST
            self.endpoint = f"{self.jaeger_host}:{self.jaeger_port}"
        if provider is None:
            _log.warning("kaizen_otel: tracing is not installed in this process; TracingManager is a no-op")
            self.tracer: trace.Tracer = trace.get_tracer(_SCOPE)
            return
        if self.endpoint is not None and self.endpoint != existing:
            self._shared = self._acquire_export(provider, handle, self.endpoint)
        self.tracer = self._identity_tracer(provider)

    # --- wiring ----------------------------------------------------------------------------------
    def _identity_tracer(self, provider: Any) -> trace.Tracer:
        tracer = provider.get_tracer(_SCOPE)
        resource = getattr(provider, "resource", None)
        process_name = resource.attributes.get("service.name") if resource is not None else None
        if process_name == self.service_name:
            return tracer
        return _AgentTracer(tracer, {sc.GEN_AI_AGENT_NAME: self.service_name})

    def _acquire_export(self, provider: Any, handle: Any, endpoint: str) -> _SharedExport:
        key = (endpoint, self.insecure)
        with _EXPORTS_LOCK:
            exports = _EXPORTS.setdefault(provider, {})
            shared = exports.get(key)
            if shared is None:
                if len(exports) >= MAX_ENDPOINTS:
                    raise KaizenConfigError(
                        "jaeger_host/jaeger_port", endpoint, f"one of the {MAX_ENDPOINTS} endpoints in use"
                    )
                shared = exports[key] = _SharedExport(self._processor(handle, endpoint))
                provider.add_span_processor(shared.processor)
            shared.users += 1
            return shared

    def _processor(self, handle: Any, endpoint: str) -> Any:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        scheme = "http" if self.insecure else "https"
        arguments: dict[str, Any] = {"endpoint": f"{scheme}://{endpoint}", "insecure": self.insecure}
        settings = getattr(handle, "settings", None)
        if not self.insecure and settings is not None and settings.otlp_certificate is not None:
            from kaizen_otel._internal.otlp_tls import tls_arguments

            arguments.update(tls_arguments(settings, "grpc", arguments["endpoint"]))
        exporter = OTLPSpanExporter(**arguments)
        options: dict[str, Any] = {
            "max_queue_size": self.batch_size,
            "schedule_delay_millis": self.batch_timeout_ms,
            "max_export_batch_size": self.max_export_batch_size,
        }
        pipeline = getattr(handle, "_pipeline", None)
        if pipeline is None:
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            return BatchSpanProcessor(exporter, **options)
        from kaizen_otel._internal.selfmon import CountingBatchSpanProcessor, CountingSpanExporter

        stats = pipeline.stats
        processor = CountingBatchSpanProcessor(
            CountingSpanExporter(exporter, stats), stats, handle.settings.shutdown_timeout_ms, **options
        )
        pipeline.batch_processors.append(("traces", processor))  # bounded shutdown, drops counted
        return processor

    # --- spans from hook events --------------------------------------------------------------------
    def create_span_from_context(self, context: Any, parent_span: Span | None = None) -> Span:
        """Start (not end) a span for a ``HookContext``, at its timestamp, under ``parent_span``."""
        from kaizen_otel.genai.hooks import _scalar_attributes

        name = getattr(context, "event_name", None) or str(context.event_type)
        attributes = {
            sc.KAIZEN_HOOK_EVENT: name,
            sc.GEN_AI_AGENT_ID: context.agent_id,
            **_scalar_attributes(context.data or {}, "kaizen.hook.data."),
        }
        parent = trace.set_span_in_context(parent_span) if parent_span is not None else None
        return self.tracer.start_span(
            name, context=parent, attributes=attributes, start_time=int(context.timestamp * 1e9)
        )

    def update_span_from_result(self, span: Span, result: Any) -> None:
        """Set the span's status from a ``HookResult`` (error and its message when it failed)."""
        duration = getattr(result, "duration_ms", None)
        if duration is not None:
            span.set_attribute("kaizen.hook.duration_ms", float(duration))
        if getattr(result, "success", True):
            span.set_status(Status(StatusCode.OK))
        else:
            message = str(getattr(result, "error", None) or "hook failed")
            span.set_attribute(sc.ERROR_TYPE, message.split("(", 1)[0] or "error")
            span.set_status(Status(StatusCode.ERROR, message))

    def record_exception(self, span: Span, exception: BaseException) -> None:
        """Record ``exception`` as a span event and mark the span failed with its type."""
        span.record_exception(exception)
        span.set_attribute(sc.ERROR_TYPE, type(exception).__qualname__)
        span.set_status(Status(StatusCode.ERROR, f"{type(exception).__name__}: {exception}"))

    # --- lifecycle ---------------------------------------------------------------------------------
    def force_flush(self, timeout: float = 30) -> bool:
        """Export every finished span now; True when done within ``timeout`` seconds (then it
        returns False and the export finishes in the background)."""
        millis = int(timeout * 1000)
        if self._shared is not None:
            target = self._shared.processor
        elif self.tracer_provider is not None and not self._closed:
            target = self.tracer_provider
        else:
            return True
        return flush_within(lambda: target.force_flush(millis), timeout)

    def shutdown(self, timeout: float = 30) -> None:
        """Export what is pending and release this manager's share of its exporter.

        The exporter of an endpoint stays attached to the process's TracerProvider for the next
        manager naming it (one per endpoint, however many managers come and go), and stops with the
        provider: at ``kaizen_otel.shutdown()`` or at exit.
        """
        if self._closed:
            return
        self.force_flush(timeout)
        self._closed = True
        shared, self._shared = self._shared, None
        if shared is not None:
            with _EXPORTS_LOCK:
                shared.users -= 1

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def enriched(self) -> bool:
        """True when the spans go through kaizen_otel's own pipeline, whose GenAI enrichment turns
        ``invoke_agent`` / ``execute_tool`` / model-call spans into the agent metrics."""
        handle = self._handle
        return (
            handle is not None
            and self.tracer_provider is not None
            and (self.tracer_provider is handle.tracer_provider)
        )

    def __repr__(self) -> str:
        return f"TracingManager(service_name={self.service_name!r}, endpoint={self.endpoint!r})"
