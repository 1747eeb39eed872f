"""kaizen_otel: OpenTelemetry-native observability for AI agents.

Importing this package has no side effects: no provider is installed, no thread started and no
environment variable written until :func:`configure` is called. The SDK is imported only when a
name that needs it is first used, so code that only uses the agent helpers stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kaizen_otel.exceptions import AuditError, BudgetExceededError, KaizenConfigError, KaizenError

if TYPE_CHECKING:
    from kaizen_otel._internal.api import configure, get_observability, shutdown
    from kaizen_otel._internal.settings import Settings
    from kaizen_otel._internal.setup import Observability
    from kaizen_otel.logging import StructuredLogger, get_logger

_LAZY = {
    "configure": "kaizen_otel._internal.api",
    "get_observability": "kaizen_otel._internal.api",
    "shutdown": "kaizen_otel._internal.api",
    "Observability": "kaizen_otel._internal.setup",
    "Settings": "kaizen_otel._internal.settings",
    "StructuredLogger": "kaizen_otel.logging",
    "get_logger": "kaizen_otel.logging",
}

__all__ = [
    "AuditError",
    "BudgetExceededError",
    "KaizenConfigError",
    "KaizenError",
    "Observability",
    "Settings",
    "StructuredLogger",
    "configure",
    "get_logger",
    "get_observability",
    "shutdown",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kaizen_otel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
