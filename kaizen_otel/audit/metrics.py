"""Audit metrics for the compliance dashboard.

* ``kaizen.audit.records`` (counter): durable records, by ``kaizen.audit.action`` and
  ``kaizen.audit.result``. Actions are a small, developer-chosen vocabulary (``tool_execute``,
  ``permission_grant``); agent and user ids are never attributes.
* ``kaizen.audit.append.duration`` (histogram, seconds, explicit buckets from 50 µs to 1 s).
* ``kaizen.audit.append.failures`` (counter): records not acknowledged, by ``error.type``.
* ``kaizen.audit.verify.last_success`` (gauge, Unix seconds): when a verification last passed.
* ``kaizen.audit.recoveries`` (counter): torn tails moved aside on open.
"""

from __future__ import annotations

import time

from opentelemetry import metrics as otel_metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

__all__ = ["APPEND_BUCKETS", "AuditMetrics"]

#: Bucket bounds of the append latency histogram, in seconds.
APPEND_BUCKETS = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)

_MAX_CACHED = 1024


class AuditMetrics:
    """The instruments, with attribute sets precomputed per (action, result)."""

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        provider = meter_provider or otel_metrics.get_meter_provider()
        meter = provider.get_meter("kaizen_otel.audit")
        self._records = meter.create_counter(
            "kaizen.audit.records", unit="{record}", description="Audit records made durable."
        )
        self._duration = meter.create_histogram(
            "kaizen.audit.append.duration",
            unit="s",
            description="Time from record() to the record being on disk.",
            explicit_bucket_boundaries_advisory=list(APPEND_BUCKETS),
        )
        self._failures = meter.create_counter(
            "kaizen.audit.append.failures",
            unit="{record}",
            description="Audit records that were not acknowledged because they could not be made durable.",
        )
        self._verified = meter.create_gauge(
            "kaizen.audit.verify.last_success",
            unit="s",
            description="Unix time of the last verification that found the trail intact.",
        )
        # Observed, not added: a torn tail is recovered when the trail opens, which under
        # ``configure()`` is before the global MeterProvider is installed; an ``add`` then would be
        # lost, while a callback reports the count at every collection afterwards.
        self._recovery_count = 0
        meter.create_observable_counter(
            "kaizen.audit.recoveries",
            callbacks=[self._observe_recoveries],
            unit="{event}",
            description="Torn tails moved aside on open.",
        )
        self._attrs: dict[tuple[str, str], dict[str, str]] = {}

    def recorded(self, action: str, result: str, seconds: float) -> None:
        key = (action, result)
        attrs = self._attrs.get(key)
        if attrs is None:
            attrs = {"kaizen.audit.action": action, "kaizen.audit.result": result}
            if len(self._attrs) < _MAX_CACHED:
                self._attrs[key] = attrs
        self._records.add(1, attrs)
        self._duration.record(seconds)

    def failed(self, error_type: str) -> None:
        self._failures.add(1, {"error.type": error_type})

    def verified(self) -> None:
        self._verified.set(time.time())

    def recovered(self) -> None:
        self._recovery_count += 1

    def _observe_recoveries(self, _options: CallbackOptions) -> list[Observation]:
        return [Observation(self._recovery_count)]
