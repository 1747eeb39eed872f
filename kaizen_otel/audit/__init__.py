"""The durable, tamper-evident audit trail of agent actions.

``AuditTrail`` records who did what, returns only once the record is on disk, and can prove later
that no line was changed, removed or reordered (``verify_trail``). See docs/audit.md.
"""

from __future__ import annotations

from kaizen_otel.audit.anchors import AnchorFile, read_anchors
from kaizen_otel.audit.entry import RESULTS, AuditEntry
from kaizen_otel.audit.exporter import JsonlAuditExporter
from kaizen_otel.audit.processor import AuditLoggerProvider, DurableAuditProcessor
from kaizen_otel.audit.query import AuditQuery
from kaizen_otel.audit.storage import Appended
from kaizen_otel.audit.trail import AuditTrail, Redactor, load_key
from kaizen_otel.audit.verify import Problem, VerifyReport, verify_trail

__all__ = [
    "RESULTS",
    "AnchorFile",
    "Appended",
    "AuditEntry",
    "AuditLoggerProvider",
    "AuditQuery",
    "AuditTrail",
    "DurableAuditProcessor",
    "JsonlAuditExporter",
    "Problem",
    "Redactor",
    "VerifyReport",
    "load_key",
    "read_anchors",
    "verify_trail",
]
