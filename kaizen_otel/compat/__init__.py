"""The API of the source documents, over kaizen_otel's core. See ``docs/api.md``.

``ObservabilityManager``, ``MetricsCollector``, ``AuditTrailManager`` + ``FileAuditStorage``,
``TracingManager`` and the agent mixin keep the documents' names, signatures and behaviour, and
implement nothing twice: metrics are OTel instruments read through the Prometheus registry,
logs are :class:`~kaizen_otel.StructuredLogger` records, spans go through the process's
TracerProvider, and audit entries are :class:`~kaizen_otel.AuditTrail` records.
"""

from __future__ import annotations

from kaizen_otel._internal.lazy import lazy_attributes

_LAZY = {
    "AuditStorage": "kaizen_otel.compat.audit",
    "AuditTrailManager": "kaizen_otel.compat.audit",
    "FileAuditStorage": "kaizen_otel.compat.audit",
    "LoggingHook": "kaizen_otel.compat.agent",
    "MetricsCollector": "kaizen_otel.compat.metrics",
    "ObservabilityManager": "kaizen_otel.compat.manager",
    "ObservabilityMixin": "kaizen_otel.compat.agent",
    "RunMetricsHook": "kaizen_otel.compat.agent",
    "RunTracingHook": "kaizen_otel.compat.agent",
    "TracingManager": "kaizen_otel.compat.tracing",
    "agent_hooks": "kaizen_otel.compat.agent",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
