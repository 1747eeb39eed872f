"""The audit pipeline's ``LogRecordProcessor`` and ``LoggerProvider``.

The SDK's processors do not fit an audit trail: ``SimpleLogRecordProcessor`` swallows export
failures (the caller never learns its record was lost) and ``BatchLogRecordProcessor`` acknowledges
records that are still in memory (a crash or a full queue loses them). :class:`DurableAuditProcessor`
writes synchronously in the caller's thread and lets :class:`AuditError` propagate out of
``Logger.emit``. Writers are serialised by the storage, which still shares one ``fdatasync``
between concurrent callers (group commit).

:class:`AuditLoggerProvider` is a private provider for that processor: never the global one, so no
other log record can reach the audit file, and it ignores ``OTEL_SDK_DISABLED`` (which would
otherwise hand out no-op loggers and drop audit records without a word).
"""

from __future__ import annotations

from opentelemetry._logs import Logger as APILogger
from opentelemetry.sdk._logs import (
    LoggerProvider,
    LogRecordLimits,
    LogRecordProcessor,
    ReadWriteLogRecord,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.util.types import Attributes

from kaizen_otel.audit.exporter import JsonlAuditExporter
from kaizen_otel.exceptions import AuditError

__all__ = ["AuditLoggerProvider", "DurableAuditProcessor"]


class DurableAuditProcessor(LogRecordProcessor):
    """Writes each record durably before ``emit`` returns; failures raise ``AuditError``."""

    def __init__(self, exporter: JsonlAuditExporter) -> None:
        self._exporter = exporter
        self._shutdown = False

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        if self._shutdown:
            raise AuditError("the audit pipeline is shut down; the record was not stored")
        self._exporter.append([log_record])

    def shutdown(self) -> None:
        if not self._shutdown:
            self._shutdown = True
            self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class AuditLoggerProvider(LoggerProvider):
    """A non-global ``LoggerProvider`` whose loggers work even under ``OTEL_SDK_DISABLED``."""

    def __init__(self, processor: DurableAuditProcessor, resource: Resource | None = None) -> None:
        unlimited = LogRecordLimits.UNSET
        super().__init__(
            resource=resource or Resource({}),
            shutdown_on_exit=False,
            log_record_limits=LogRecordLimits(
                max_log_record_attributes=unlimited, max_log_record_attribute_length=unlimited
            ),
        )
        self.add_log_record_processor(processor)

    def get_logger(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> APILogger:
        # The base class returns a NoOpLogger when OTEL_SDK_DISABLED is set; audit must still write.
        return self._get_logger_no_cache(name, version, schema_url, attributes)
