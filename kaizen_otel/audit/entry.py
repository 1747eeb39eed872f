"""The audit record as callers see it: :class:`AuditEntry`."""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RESULTS", "AuditEntry"]

#: The allowed values of ``result``.
RESULTS = ("success", "failure", "denied")

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def ns_to_datetime(ns: int) -> _dt.datetime:
    """UTC datetime of a nanosecond epoch time (microsecond precision, as datetime allows)."""
    return _EPOCH + _dt.timedelta(microseconds=ns // 1000)


# The text of the last whole second formatted: records come in bursts within one second, and
# strftime is most of the cost of iso_ns. One tuple, replaced whole, so threads never see it torn.
_last_second: tuple[int, str] = (-1, "")


def iso_ns(ns: int) -> str:
    """RFC 3339 UTC text with all nine digits of the nanosecond time."""
    global _last_second
    seconds, rest = divmod(ns, 1_000_000_000)
    cached, text = _last_second
    if cached != seconds:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _last_second = (seconds, text)
    return f"{text}.{rest:09d}Z"


@dataclass(frozen=True)
class AuditEntry:
    """One durable audit record: who (agent, user) did what (action, details) with which result.

    ``seq`` is the record's line number in the whole trail and ``hash`` its link in the chain;
    ``trace_id``/``span_id`` tie it to the span that was active when it was recorded.
    """

    timestamp_ns: int
    agent_id: str
    action: str
    result: str
    details: Mapping[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
    span_id: str | None = None
    seq: int = -1
    hash: str = ""

    @property
    def timestamp(self) -> _dt.datetime:
        """When the record was made, as an aware UTC datetime."""
        return ns_to_datetime(self.timestamp_ns)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the form ``kaizen-otel audit query`` prints)."""
        return {
            "timestamp": iso_ns(self.timestamp_ns),
            "timestamp_ns": self.timestamp_ns,
            "seq": self.seq,
            "agent_id": self.agent_id,
            "user_id": self.user_id,
            "action": self.action,
            "result": self.result,
            "details": dict(self.details),
            "metadata": dict(self.metadata),
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "hash": self.hash,
        }

    @classmethod
    def _made(
        cls,
        timestamp_ns: int,
        agent_id: str,
        action: str,
        result: str,
        details: Mapping[str, Any],
        user_id: str | None,
        metadata: Mapping[str, Any],
        trace_id: str | None,
        span_id: str | None,
        seq: int,
        hash: str,
    ) -> AuditEntry:
        """The entry ``AuditTrail.record()`` returns, built without the frozen ``__init__``.

        A frozen dataclass sets each of its eleven fields through ``object.__setattr__``; filling
        the instance dict directly gives the same (still frozen) entry at a third of the CPU, once
        per record on the writers' hot path.
        """
        entry = object.__new__(cls)
        entry.__dict__.update(
            timestamp_ns=timestamp_ns,
            agent_id=agent_id,
            action=action,
            result=result,
            details=details,
            user_id=user_id,
            metadata=metadata,
            trace_id=trace_id,
            span_id=span_id,
            seq=seq,
            hash=hash,
        )
        return entry

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> AuditEntry:
        """The entry of one ``record`` line of a trail."""
        return cls(
            timestamp_ns=int(record.get("timestamp", 0)),
            agent_id=str(record.get("agent_id", "")),
            action=str(record.get("action", "")),
            result=str(record.get("result", "")),
            details=record.get("details") or {},
            user_id=record.get("user_id"),
            metadata=record.get("metadata") or {},
            trace_id=record.get("trace_id"),
            span_id=record.get("span_id"),
            seq=int(record.get("seq", -1)),
            hash=str(record.get("hash", "")),
        )
