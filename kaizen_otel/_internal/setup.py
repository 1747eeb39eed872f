"""``configure()``: resolve settings, build the pipeline, install the OTel globals once.

Every way in (``kaizen_otel.configure()``, ``opentelemetry-instrument`` through our configurator,
environment variables alone) runs :func:`configure_once`; only the error policy differs (strict
for explicit calls, lenient under auto-instrumentation, where the host must never crash).

The OTel API lets each global provider be set once per process. We therefore install under a
lock, return the same handle to a second call (and say so), and never build exporters or threads
that would then be ignored.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry._logs._internal import ProxyLoggerProvider
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import ProxyTracerProvider

from kaizen_otel._internal.providers import Pipeline, build_pipeline
from kaizen_otel._internal.settings import Resolved, Settings, resolve
from kaizen_otel.exceptions import KaizenConfigError, KaizenError

_log = logging.getLogger("kaizen_otel")

_lock = threading.RLock()
_active: Observability | None = None
_shut_down_in_process = False


class Observability:
    """The handle ``configure()`` returns: what was installed, and how to flush and stop it."""

    def __init__(self, resolved: Resolved, origin: str) -> None:
        self.settings: Settings = resolved.settings
        self.sources: Mapping[str, str] = resolved.sources
        self.origin = origin
        self.problems: list[str] = list(resolved.problems)
        self._pipeline: Pipeline | None = None
        self._closers: list[Callable[[], None]] = []
        self._closed = False
        self._shutdown_lock = threading.Lock()
        self.audit: Any = None
        #: The redaction rules shared by spans, logs and the audit trail (None when off).
        self.redactor: Any = None
        #: After shutdown: ``{signal: items}`` that failed or were dropped during it.
        self.lost_at_exit: dict[str, int] = {}
        #: The live view's store (``kaizen_otel.liveview.LiveStore``), None when it is off.
        self.live_store: Any = None
        self._live_refusal: str | None = None

    # -- what was installed ----------------------------------------------------------------------
    @property
    def tracer_provider(self) -> TracerProvider | None:
        return self._pipeline.tracer_provider if self._pipeline else None

    @property
    def meter_provider(self) -> MeterProvider | None:
        return self._pipeline.meter_provider if self._pipeline else None

    @property
    def logger_provider(self) -> LoggerProvider | None:
        return self._pipeline.logger_provider if self._pipeline else None

    @property
    def metrics_url(self) -> str | None:
        """Where Prometheus can scrape this process, or None when the endpoint is off."""
        server = self._pipeline.server if self._pipeline else None
        return server.metrics_url if server else None

    @property
    def health_url(self) -> str | None:
        server = self._pipeline.server if self._pipeline else None
        return server.base_url + "/healthz" if server else None

    @property
    def live_view_url(self) -> str | None:
        """The live page of agent runs, or None when the live view is off or refused."""
        server = self._pipeline.server if self._pipeline else None
        return server.base_url + "/ui/" if server and self.live_store is not None else None

    @property
    def closed(self) -> bool:
        return self._closed

    def readiness(self) -> tuple[bool, list[str]]:
        """Ready when the providers are installed and no exporter's latest send attempt failed."""
        if self._closed:
            return False, ["shut down"]
        if self._pipeline is None:
            return False, ["starting"]
        reasons = self._pipeline.stats.not_ready_reasons()
        return not reasons, reasons

    # -- lifecycle -------------------------------------------------------------------------------
    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Export everything buffered so far; True when every provider flushed in time."""
        if self._pipeline is None or self._closed:
            return True
        return self._pipeline.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Flush and stop everything this handle opened. Safe to call more than once.

        Returns within ``shutdown_timeout_ms`` whatever the backend does (refuses, never answers,
        fails): what is still buffered then is dropped, counted and logged in one line.
        """
        global _active, _shut_down_in_process
        with self._shutdown_lock:
            if self._closed:
                return
            self._closed = True
        started = time.monotonic()
        for close in reversed(self._closers):
            try:
                close()
            except Exception:
                _log.exception("kaizen_otel: a shutdown step failed")
        if self._pipeline is not None:
            spent_ms = (time.monotonic() - started) * 1000
            before = self._pipeline.stats.totals()
            self._pipeline.shutdown(max(1.0, self.settings.shutdown_timeout_ms - spent_ms))
            self._report_exit_losses(before, time.monotonic() - started)
        with _lock:
            if _active is self:
                _active = None
                _shut_down_in_process = True
        try:
            atexit.unregister(self._at_exit)
        except Exception:  # interpreter finalising
            pass

    def _at_exit(self) -> None:
        self.shutdown()

    def _report_exit_losses(self, before: Mapping[str, tuple[int, int]], seconds: float) -> None:
        """Say in one line what shutdown lost: exports that failed, items queued or in flight."""
        assert self._pipeline is not None
        stats = self._pipeline.stats
        lost = {}
        for signal, (failed, dropped) in stats.totals().items():
            failed_before, dropped_before = before.get(signal, (0, 0))
            lost[signal] = failed - failed_before + dropped - dropped_before
        self.lost_at_exit = lost
        if any(lost.values()):
            _log.warning(
                "kaizen_otel: shutdown in %.1f s (limit %d ms): not exported: %s",
                seconds,
                self.settings.shutdown_timeout_ms,
                ", ".join(f"{count} {_UNITS[signal]}" for signal, count in lost.items()),
            )

    def degrade(self, problem: str) -> None:
        """Record and log a problem that auto-instrumentation survives by doing without a part."""
        self.problems.append(problem)
        _log.error("kaizen_otel: %s", problem)

    def on_shutdown(self, close: Callable[[], None]) -> None:
        """Run ``close`` at shutdown (in reverse order of registration)."""
        self._closers.append(close)

    def __enter__(self) -> Observability:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "active"
        return (
            f"<Observability {state} service={self.settings.service_name!r} metrics_url={self.metrics_url!r}>"
        )


def active() -> Observability | None:
    """The handle installed in this process, if any."""
    return _active


def configure_once(
    overrides: Mapping[str, Any] | None = None,
    *,
    strict: bool = True,
    origin: str = "configure()",
    environ: Mapping[str, str] | None = None,
    extend: Callable[[Pipeline], None] | None = None,
) -> Observability:
    """Resolve, build and install once; a later call returns the same handle.

    ``extend`` sees the built pipeline before anything is installed (``kaizen_otel.testing`` adds
    its in-memory exporters there, after the redaction processors, so tests see what an exporter
    would).
    """
    global _active
    with _lock:
        if _active is not None:
            if overrides:
                _log.warning(
                    "kaizen_otel is already configured (by %s); returning the existing handle "
                    "and ignoring the new settings: %s",
                    _active.origin,
                    ", ".join(sorted(overrides)),
                )
            else:
                _log.info(
                    "kaizen_otel is already configured (by %s); returning the existing handle", _active.origin
                )
            return _active
        if _shut_down_in_process:
            raise KaizenError(
                "kaizen_otel was shut down in this process and cannot be configured again: "
                "OpenTelemetry lets each global provider be set only once per process"
            )
        handle = Observability(resolve(overrides, environ=environ, strict=strict), origin)
        if handle.settings.redaction_enabled:
            handle.redactor = _redactor(handle.settings)
        _plan_live_view(handle)
        pricing = _load_pricing(handle, strict=strict)
        _open_audit(handle, strict=strict)
        try:
            pipeline = _build(handle, strict=strict)
        except BaseException:
            if handle.audit is not None:
                handle.audit.close()
            raise
        handle.problems.extend(pipeline.problems)
        handle._pipeline = pipeline
        _serve_live_view(handle, pipeline)
        if extend is not None:
            extend(pipeline)
        _install_globals(pipeline)
        _attach_extensions(handle, pricing)
        atexit.register(handle._at_exit)
        _register_fork_handler()
        _active = handle
        return handle


_UNITS = {"traces": "spans", "metrics": "metric points", "logs": "log records"}

_fork_handler_registered = False


def _register_fork_handler() -> None:
    global _fork_handler_registered
    if not _fork_handler_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_handler_registered = True


def _after_fork_in_child() -> None:
    """The SDK restarts its batch threads in a child; our HTTP server thread is gone there.

    The child also starts its own metrics (``forks.py``): none of the parent's counts, so
    nothing is counted twice (the SDK gives it its own ``service.instance.id``).
    When the parent's ``/metrics`` cannot show the child's metrics (no multiprocess
    directory), the child says so in a WARNING.
    """
    handle = _active
    if handle is None or handle._pipeline is None:
        return
    pipeline = handle._pipeline
    served = pipeline.server
    if served is not None:
        served.release_after_fork()
        pipeline.server = None
    from kaizen_otel._internal import forks

    if pipeline.meter_provider is not None:
        forks.forget_metrics(pipeline.meter_provider)
    pipeline.stats.forget()
    forks.flush_multiprocessing_child(handle)
    if served is not None and pipeline.multiproc_reader is None:
        _log.warning(
            "kaizen_otel: this process (pid %d) was forked from the one serving %s; that "
            "endpoint shows only the parent's metrics, not this worker's. For one /metrics "
            "with every worker, set PROMETHEUS_MULTIPROC_DIR to a shared directory (see "
            "docs/operations.md), or export metrics over OTLP",
            os.getpid(),
            served.metrics_url,
        )


def _build(handle: Observability, *, strict: bool) -> Pipeline:
    return build_pipeline(
        handle.settings,
        strict=strict,
        port_source=handle.sources.get("prometheus_port", "default"),
        host_source=handle.sources.get("prometheus_host", "default"),
        readiness=handle.readiness,
        span_processors=_first_span_processors(handle.redactor) + _live_processors(handle, "span"),
        log_processors=_content_log_processors(handle.settings)
        + _first_log_processors(handle.redactor)
        + _live_processors(handle, "log"),
    )


def _plan_live_view(handle: Observability) -> None:
    """Decide on the live view before building: its processors go in after redaction."""
    settings = handle.settings
    if not settings.live_view or settings.sdk_disabled:
        return
    from kaizen_otel._internal.providers import wants_prometheus
    from kaizen_otel.liveview import plan

    handle.live_store, handle._live_refusal = plan(settings, wants_prometheus(settings))
    if handle._live_refusal is not None:
        _log.info("kaizen_otel: %s", handle._live_refusal)


def _live_processors(handle: Observability, signal: str) -> list[Any]:
    """The live view's log processor (its spans come from the GenAI enrichment processor)."""
    store = handle.live_store
    if store is None or signal == "span":
        return []
    return [store.log_processor]


def _feed_live_view(handle: Observability) -> None:
    """Feed the live view's spans from the enrichment processor's tracking of our tracer provider
    (after redaction, which runs first); without one there, from the store's own span processor."""
    store = handle.live_store
    provider = handle._pipeline.tracer_provider if handle._pipeline is not None else None
    if store is None or provider is None:
        return
    from kaizen_otel.genai.runtime import enricher_of

    enricher = enricher_of(provider)
    if enricher is not None:
        enricher.feed(store)
    else:
        provider.add_span_processor(store.span_processor)


def _serve_live_view(handle: Observability, pipeline: Pipeline) -> None:
    """Mount the live view's routes on the HTTP server; feed it the audit tail."""
    store = handle.live_store
    if pipeline.server is None or (store is None and handle._live_refusal is None):
        return
    from kaizen_otel.liveview import LiveApp

    settings = handle.settings
    pipeline.server.serve_live(
        LiveApp(
            store,
            service_name=settings.service_name,
            bind_host=settings.prometheus_host,
            refusal=handle._live_refusal,
        )
    )
    if store is not None and handle.audit is not None:
        store.set_audit(handle.audit.path, handle.audit.verify)


def _install_globals(pipeline: Pipeline) -> None:
    """Set each global provider unless another library already set one (then say so)."""
    if pipeline.tracer_provider is not None:
        if isinstance(trace.get_tracer_provider(), ProxyTracerProvider):
            trace.set_tracer_provider(pipeline.tracer_provider)
        else:
            _foreign("TracerProvider", trace.get_tracer_provider())
    if pipeline.meter_provider is not None:
        if type(metrics.get_meter_provider()).__name__ == "_ProxyMeterProvider":
            metrics.set_meter_provider(pipeline.meter_provider)
        else:
            _foreign("MeterProvider", metrics.get_meter_provider())
    if pipeline.logger_provider is not None:
        if isinstance(_logs.get_logger_provider(), ProxyLoggerProvider):
            _logs.set_logger_provider(pipeline.logger_provider)
        else:
            _foreign("LoggerProvider", _logs.get_logger_provider())


def _foreign(kind: str, provider: object) -> None:
    _log.warning(
        "kaizen_otel: a global %s (%s) was already installed by another library; it stays the "
        "global one, and telemetry sent through the OpenTelemetry API goes to it, not to "
        "kaizen_otel's exporters",
        kind,
        type(provider).__name__,
    )


def _redactor(settings: Settings) -> Any:
    """One Redactor per configuration, shared by spans, logs and the audit trail."""
    from kaizen_otel.redaction import Redactor

    return Redactor.from_settings(settings)


def _first_span_processors(redactor: Any) -> list[SpanProcessor]:
    """Processors that must run before any exporter sees a span (redaction)."""
    if redactor is None:
        return []
    from kaizen_otel.redaction import RedactingSpanProcessor

    return [RedactingSpanProcessor(redactor)]


def _content_log_processors(settings: Settings) -> list[LogRecordProcessor]:
    """Message-content capture off: no instrumentation's log record carries prompts or answers."""
    if settings.capture_message_content:
        return []
    from kaizen_otel.genai.log_content import ContentDroppingLogProcessor

    return [ContentDroppingLogProcessor()]


def _first_log_processors(redactor: Any) -> list[LogRecordProcessor]:
    if redactor is None:
        return []
    from kaizen_otel.redaction import RedactingLogRecordProcessor

    return [RedactingLogRecordProcessor(redactor)]


def _open_audit(handle: Observability, *, strict: bool) -> None:
    """Open the audit trail before anything global is installed, so a failure leaves nothing.

    Audit is not telemetry: it opens even with ``OTEL_SDK_DISABLED``. Its metrics and the optional
    OTLP forwarding go through the API's global providers, which delegate to ours once installed.
    """
    settings = handle.settings
    if not settings.enable_audit:
        return
    from kaizen_otel.audit import AuditTrail

    forward = _logs.get_logger_provider() if settings.audit_forward_otlp else None
    try:
        handle.audit = AuditTrail.from_settings(
            settings,
            redact=handle.redactor.redact_mapping if handle.redactor is not None else False,
            forward_logger_provider=forward,
        )
    except Exception as exc:
        exc = _with_source(exc, handle.sources)
        if strict:
            raise exc from exc.__cause__
        handle.degrade(
            f"the audit trail at {settings.audit_path!r} could not be opened: {exc}; continuing without it"
        )
        return
    handle.on_shutdown(handle.audit.close)


def _with_source(error: Exception, sources: Mapping[str, str]) -> Exception:
    """The error naming where the setting's value came from (an environment variable, say).

    The audit trail and the pricing loader see only values, so their errors said "from argument"
    for a value that came from ``KAIZEN_OTEL_AUDIT_KEY_FILE`` or ``KAIZEN_OTEL_PRICING_FILE``.
    """
    if not isinstance(error, KaizenConfigError):
        return error
    source = sources.get(error.setting)
    if source is None or source == error.source:
        return error
    fixed = KaizenConfigError(error.setting, error.value, error.allowed, source)
    fixed.__cause__ = error.__cause__
    return fixed


def _load_pricing(handle: Observability, *, strict: bool) -> Any:
    """Read a ``pricing_file`` now, so a bad one fails before anything is installed.

    Without one, None: the agent helpers load the shipped table when they first price a call.
    """
    if handle.settings.pricing_file is None:
        return None
    from kaizen_otel.genai import load_pricing

    try:
        return load_pricing(handle.settings.pricing_file)
    except Exception as exc:
        exc = _with_source(exc, handle.sources)
        if strict:
            raise exc from exc.__cause__
        handle.degrade(f"{exc}; using the shipped pricing table")
        return load_pricing(None)  # given explicitly, so the helpers do not read the bad file again


def _attach_extensions(handle: Observability, pricing: Any) -> None:
    """Wire logging and the agent helpers to the installed providers (closed in reverse order)."""
    settings = handle.settings
    pipeline = handle._pipeline
    assert pipeline is not None
    if pipeline.logger_provider is not None and settings.logging_bridge:
        from kaizen_otel._internal.log_bridge import install_logging_bridge

        handle.on_shutdown(install_logging_bridge(pipeline.logger_provider, settings.log_level))
    from kaizen_otel._internal.log_bridge import install_record_fields

    handle.on_shutdown(install_record_fields(settings.service_name))
    from kaizen_otel.logging import configure_logging, reset_logging

    configure_logging(settings)
    handle.on_shutdown(reset_logging)
    from kaizen_otel.genai import configure_genai, reset_genai

    configure_genai(settings, audit=handle.audit, pricing=pricing)
    handle.on_shutdown(reset_genai)
    _feed_live_view(handle)


def reset_for_tests() -> None:
    """Forget the active handle and allow a new ``configure()`` (used by ``kaizen_otel.testing``)."""
    global _active, _shut_down_in_process
    with _lock:
        if _active is not None:
            _active.shutdown()
        _active = None
        _shut_down_in_process = False
