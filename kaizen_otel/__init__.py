"""kaizen_otel: OpenTelemetry-native observability for AI agents.

Importing this package has no side effects: no provider is installed, no thread started and no
environment variable written until :func:`configure` is called. The SDK is imported only when a
name that needs it is first used, so code that only uses the agent helpers stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaizen_otel._internal.lazy import lazy_attributes
from kaizen_otel.exceptions import AuditError, BudgetExceededError, KaizenConfigError, KaizenError

if TYPE_CHECKING:
    from kaizen_otel._internal.api import configure, get_observability, shutdown
    from kaizen_otel._internal.settings import Settings
    from kaizen_otel._internal.setup import Observability
    from kaizen_otel.audit import AuditEntry, AuditTrail, JsonlAuditExporter, VerifyReport, verify_trail
    from kaizen_otel.compat import (
        AuditTrailManager,
        FileAuditStorage,
        MetricsCollector,
        ObservabilityManager,
        ObservabilityMixin,
        TracingManager,
    )
    from kaizen_otel.genai import (
        AgentInvocation,
        AuditHook,
        BaseHook,
        BudgetLimits,
        HookContext,
        HookEvent,
        HookManager,
        HookResult,
        LLMInvocation,
        MetricsHook,
        ModelPrice,
        Pricing,
        ToolInvocation,
        TracingHook,
        agent_run,
        bind_context,
        current_agent_run,
        extract_context,
        get_hook_manager,
        inject_context,
        llm_call,
        load_pricing,
        start_agent_run,
        start_llm_call,
        start_tool_call,
        tool_call,
        usage_summary,
        use_context,
    )
    from kaizen_otel.logging import StructuredLogger, get_logger
    from kaizen_otel.redaction import Redactor

_LAZY = {
    "configure": "kaizen_otel._internal.api",
    "get_observability": "kaizen_otel._internal.api",
    "shutdown": "kaizen_otel._internal.api",
    "Observability": "kaizen_otel._internal.setup",
    "Settings": "kaizen_otel._internal.settings",
    "StructuredLogger": "kaizen_otel.logging",
    "get_logger": "kaizen_otel.logging",
    "AgentInvocation": "kaizen_otel.genai",
    "AuditHook": "kaizen_otel.genai",
    "BaseHook": "kaizen_otel.genai",
    "BudgetLimits": "kaizen_otel.genai",
    "HookContext": "kaizen_otel.genai",
    "HookEvent": "kaizen_otel.genai",
    "HookManager": "kaizen_otel.genai",
    "HookResult": "kaizen_otel.genai",
    "LLMInvocation": "kaizen_otel.genai",
    "MetricsHook": "kaizen_otel.genai",
    "ModelPrice": "kaizen_otel.genai",
    "Pricing": "kaizen_otel.genai",
    "ToolInvocation": "kaizen_otel.genai",
    "TracingHook": "kaizen_otel.genai",
    "agent_run": "kaizen_otel.genai",
    "bind_context": "kaizen_otel.genai",
    "current_agent_run": "kaizen_otel.genai",
    "extract_context": "kaizen_otel.genai",
    "get_hook_manager": "kaizen_otel.genai",
    "inject_context": "kaizen_otel.genai",
    "llm_call": "kaizen_otel.genai",
    "load_pricing": "kaizen_otel.genai",
    "start_agent_run": "kaizen_otel.genai",
    "start_llm_call": "kaizen_otel.genai",
    "start_tool_call": "kaizen_otel.genai",
    "tool_call": "kaizen_otel.genai",
    "usage_summary": "kaizen_otel.genai",
    "use_context": "kaizen_otel.genai",
    "AuditEntry": "kaizen_otel.audit",
    "AuditTrail": "kaizen_otel.audit",
    "JsonlAuditExporter": "kaizen_otel.audit",
    "VerifyReport": "kaizen_otel.audit",
    "verify_trail": "kaizen_otel.audit",
    "Redactor": "kaizen_otel.redaction",
    "AuditTrailManager": "kaizen_otel.compat",
    "FileAuditStorage": "kaizen_otel.compat",
    "MetricsCollector": "kaizen_otel.compat",
    "ObservabilityManager": "kaizen_otel.compat",
    "ObservabilityMixin": "kaizen_otel.compat",
    "TracingManager": "kaizen_otel.compat",
}

__all__ = [
    "AgentInvocation",
    "AuditEntry",
    "AuditError",
    "AuditHook",
    "AuditTrail",
    "AuditTrailManager",
    "BaseHook",
    "BudgetExceededError",
    "BudgetLimits",
    "FileAuditStorage",
    "HookContext",
    "HookEvent",
    "HookManager",
    "HookResult",
    "JsonlAuditExporter",
    "KaizenConfigError",
    "KaizenError",
    "LLMInvocation",
    "MetricsCollector",
    "MetricsHook",
    "ModelPrice",
    "Observability",
    "ObservabilityManager",
    "ObservabilityMixin",
    "Pricing",
    "Redactor",
    "Settings",
    "StructuredLogger",
    "ToolInvocation",
    "TracingHook",
    "TracingManager",
    "VerifyReport",
    "agent_run",
    "bind_context",
    "configure",
    "current_agent_run",
    "extract_context",
    "get_hook_manager",
    "get_logger",
    "get_observability",
    "inject_context",
    "llm_call",
    "load_pricing",
    "shutdown",
    "start_agent_run",
    "start_llm_call",
    "start_tool_call",
    "tool_call",
    "usage_summary",
    "use_context",
    "verify_trail",
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
