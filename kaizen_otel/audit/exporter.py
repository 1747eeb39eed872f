"""``JsonlAuditExporter``: the OpenTelemetry ``LogRecordExporter`` that writes the audit trail.

Each audit log record becomes one hash-chained JSON line in a :class:`DurableLog`. The record's
body carries the audit fields (a mapping, so no attribute-count or attribute-length limit of the
SDK can cut it); timestamp and trace context come from the log record itself.

Two entry points: :meth:`append` raises :class:`AuditError` and returns the entries (the audit
processor uses it, so a failure reaches the caller of ``record()``), and :meth:`export` follows the
exporter contract (never raises; returns ``FAILURE``) for use in any other SDK pipeline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from kaizen_otel.audit.entry import RESULTS, AuditEntry, iso_ns
from kaizen_otel.audit.storage import DurableLog
from kaizen_otel.exceptions import AuditError

__all__ = ["JsonlAuditExporter", "audit_fields"]

_log = logging.getLogger("kaizen_otel.audit")

_REQUIRED = ("agent_id", "action", "result")


class JsonlAuditExporter(LogRecordExporter):
    """Writes audit log records as durable JSON lines; only records whose body is an audit entry."""

    def __init__(self, storage: DurableLog) -> None:
        self._storage = storage

    @property
    def storage(self) -> DurableLog:
        return self._storage

    def append(self, batch: Sequence[ReadableLogRecord | ReadWriteLogRecord]) -> list[AuditEntry]:
        """Write ``batch`` durably and return its entries; raise ``AuditError`` on any failure."""
        fields = [_fields_of(item) for item in batch]
        appended = self._storage.append(fields)
        return [AuditEntry.from_record(item.record) for item in appended]

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:  # type: ignore[override]
        try:
            self.append(batch)
        except AuditError as exc:
            _log.error("audit export failed: %s", exc)
            return LogRecordExportResult.FAILURE
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        """Seal and close the trail (idempotent)."""
        self._storage.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered: every accepted record is already on disk."""
        return True


def _fields_of(item: ReadableLogRecord | ReadWriteLogRecord) -> dict[str, Any]:
    """The audit fields of one log record (everything but the chain fields)."""
    record = item.log_record
    body: Any = record.body
    if not isinstance(body, Mapping) or any(not isinstance(body.get(k), str) for k in _REQUIRED):
        raise AuditError(
            "not an audit record: the log record body must be a mapping with string "
            "agent_id, action and result"
        )
    if body["result"] not in RESULTS:
        raise AuditError(f"audit result must be one of {', '.join(RESULTS)}; got {body['result']!r}")
    return audit_fields(
        record.timestamp or record.observed_timestamp or time.time_ns(),
        body["agent_id"],
        body["action"],
        body["result"],
        body.get("user_id"),
        body.get("details") or {},
        body.get("metadata") or {},
        record.trace_id or 0,
        record.span_id or 0,
    )


def audit_fields(
    timestamp: int,
    agent_id: str,
    action: str,
    result: str,
    user_id: str | None,
    details: Mapping[str, Any],
    metadata: Mapping[str, Any],
    trace_id: int,
    span_id: int,
) -> dict[str, Any]:
    """The fields of one audit line (everything but the chain fields), from whichever path wrote it."""
    return {
        "timestamp": timestamp,
        "time": iso_ns(timestamp),
        "agent_id": agent_id,
        "user_id": user_id,
        "action": action,
        "result": result,
        "details": details,
        "metadata": metadata,
        "trace_id": f"{trace_id:032x}" if trace_id else None,
        "span_id": f"{span_id:016x}" if span_id else None,
    }
