"""``ObservabilityManager``: the documents' one object for metrics, logs, traces and audit.

It holds no pipeline of its own. The first manager in a process calls ``configure()`` with its
service name and its four switches (``enable_metrics`` -> a MeterProvider and ``/metrics``,
``enable_logging`` -> a LoggerProvider, ``enable_tracing`` -> a TracerProvider, ``enable_audit`` ->
the audit trail); later managers reuse what is installed, because OpenTelemetry sets each global
provider once per process. A later manager whose service name differs from the process's
``service.name`` carries its name as ``gen_ai.agent.name`` on its metrics, logs and spans.

A component switched off is never built: no instrument, logger, exporter or file, and its
methods do what the documents say (``record_metric`` does nothing, ``get_logger`` returns None,
``get_tracing_manager`` returns None, ``record_audit`` stores nothing and the queries return []).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kaizen_otel.compat._process import (
    DEFAULT_SERVICE_NAME,
    check_flag,
    check_text,
    flush_within,
    process_handle,
)
from kaizen_otel.compat.audit import AuditTrailManager
from kaizen_otel.compat.metrics import MetricsCollector
from kaizen_otel.compat.tracing import TracingManager
from kaizen_otel.exceptions import KaizenConfigError
from kaizen_otel.genai import semconv as sc
from kaizen_otel.logging import StructuredLogger, get_logger

__all__ = ["COMPONENTS", "ObservabilityManager"]

_log = logging.getLogger("kaizen_otel.compat")

#: The component names, in the order ``get_enabled_components()`` lists them.
COMPONENTS = ("metrics", "logging", "tracing", "audit")
_METRIC_TYPES = ("counter", "gauge", "histogram")
_MAX_LOGGERS = 1000


class ObservabilityManager:
    """Metrics, structured logging, tracing and audit for one service, each switchable."""

    def __init__(
        self,
        service_name: str = DEFAULT_SERVICE_NAME,
        enable_metrics: bool = True,
        enable_logging: bool = True,
        enable_tracing: bool = True,
        enable_audit: bool = True,
        *,
        jaeger_host: str | None = None,
        jaeger_port: int = 4317,
    ) -> None:
        self.service_name = check_text("service_name", service_name)
        switches = {
            "enable_metrics": check_flag("enable_metrics", enable_metrics),
            "enable_logging": check_flag("enable_logging", enable_logging),
            "enable_tracing": check_flag("enable_tracing", enable_tracing),
            "enable_audit": check_flag("enable_audit", enable_audit),
        }
        self._enabled = tuple(c for c in COMPONENTS if switches[f"enable_{c}"])
        #: The process's handle (``kaizen_otel.configure()``'s), shared by every manager.
        self.handle = process_handle(service_name, "ObservabilityManager", **switches)
        process_name = self.handle.settings.service_name if self.handle is not None else None
        self._identity: dict[str, str] = (
            {} if process_name == service_name else {sc.GEN_AI_AGENT_NAME: service_name}
        )
        self._warn_missing(switches)
        self._loggers: dict[str, StructuredLogger] = {}
        self._closed = False
        self.metrics = MetricsCollector(attributes=self._identity) if enable_metrics else None
        self._logging = enable_logging
        self.tracing = (
            TracingManager(service_name, jaeger_host=jaeger_host, jaeger_port=jaeger_port)
            if enable_tracing
            else None
        )
        self.audit = AuditTrailManager() if enable_audit else None

    def _warn_missing(self, switches: Mapping[str, bool]) -> None:
        """Say when this manager wants a signal the process was configured without."""
        settings = self.handle.settings if self.handle is not None else None
        if settings is None:
            return
        missing = [
            name[len("enable_") :]
            for name, wanted in switches.items()
            if wanted and name != "enable_audit" and not getattr(settings, name)
        ]
        if missing:
            _log.warning(
                "kaizen_otel: %s wants %s, but the process was configured without it (by %s); "
                "OpenTelemetry installs providers once per process, so those records go nowhere",
                self.service_name,
                ", ".join(missing),
                self.handle.origin if self.handle is not None else "?",
            )

    # --- logging ---------------------------------------------------------------------------------
    def get_logger(self, name: str) -> StructuredLogger | None:
        """The StructuredLogger ``name`` (None when logging is off for this manager)."""
        if not self._logging:
            return None
        if not self._identity:
            return get_logger(name)
        logger = self._loggers.get(name)
        if logger is None:
            logger = get_logger(name).bind(**self._identity)
            if len(self._loggers) < _MAX_LOGGERS:
                self._loggers[name] = logger
        return logger

    # --- metrics ---------------------------------------------------------------------------------
    async def record_metric(
        self,
        name: str,
        value: float,
        type: str = "counter",
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Add to a counter, set a gauge or observe a histogram; nothing when metrics are off."""
        if type not in _METRIC_TYPES:
            raise KaizenConfigError("type", type, "one of counter, gauge, histogram")
        collector = self.metrics
        if collector is None or self._closed:
            return
        getattr(collector, type)(name, value, labels)

    async def export_metrics(self) -> str:
        """Prometheus text of the live registry with p50/p95/p99 per histogram ('' when metrics are off)."""
        if self.metrics is None:
            return ""
        return self.metrics.export_text()

    # --- tracing ---------------------------------------------------------------------------------
    def get_tracing_manager(self) -> TracingManager | None:
        return self.tracing

    # --- audit -----------------------------------------------------------------------------------
    async def record_audit(
        self,
        agent_id: str,
        action: str,
        details: Mapping[str, Any] | None = None,
        result: str = "success",
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Any:
        """Record an audit entry (durable on return); nothing when audit is off for this manager."""
        if self.audit is None:
            return None
        return await self.audit.record(agent_id, action, details, result, user_id, metadata)

    async def query_audit_by_agent(self, agent_id: str) -> list[Any]:
        return await self.audit.query_by_agent(agent_id) if self.audit is not None else []

    async def query_audit_by_action(self, action: str) -> list[Any]:
        return await self.audit.query_by_action(action) if self.audit is not None else []

    # --- status ----------------------------------------------------------------------------------
    def is_component_enabled(self, component: str) -> bool:
        if component not in COMPONENTS:
            raise KaizenConfigError("component", component, "one of " + ", ".join(COMPONENTS))
        return component in self._enabled

    def get_enabled_components(self) -> list[str]:
        return list(self._enabled)

    def get_service_name(self) -> str:
        return self.service_name

    @property
    def identity(self) -> dict[str, str]:
        """Attributes this manager adds to its telemetry ({} when it names the process's service)."""
        return dict(self._identity)

    # --- cleanup ---------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Flush traces, metrics and logs, close the audit file this manager opened. Idempotent.

        Each flush waits at most ``shutdown_timeout_ms`` (5 s by default), so an agent's
        ``cleanup()`` ends in time when Jaeger hangs. The process-wide providers stay installed for
        other managers and the helpers; they stop at ``kaizen_otel.shutdown()`` or at exit.
        """
        if self._closed:
            return
        self._closed = True
        limit_ms = self.handle.settings.shutdown_timeout_ms if self.handle is not None else 5000
        if self.tracing is not None:
            self.tracing.shutdown(timeout=limit_ms / 1000)
        if self.audit is not None:
            self.audit.close()
        handle = self.handle
        if handle is not None:
            flush_within(lambda: handle.force_flush(limit_ms), limit_ms / 1000)

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"ObservabilityManager(service_name={self.service_name!r}, enabled={list(self._enabled)})"
