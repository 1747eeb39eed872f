"""kaizen_otel: OpenTelemetry-native observability for AI agents.

Importing this package has no side effects: no provider is installed, no thread started and no
environment variable written until :func:`configure` is called.
"""

from __future__ import annotations

from kaizen_otel.exceptions import AuditError, BudgetExceededError, KaizenConfigError, KaizenError

__all__ = [
    "AuditError",
    "BudgetExceededError",
    "KaizenConfigError",
    "KaizenError",
]
