"""Agent instrumentation in the GenAI semantic conventions: runs, LLM calls, tool calls.

Spans, metrics and logs go through the OpenTelemetry API only, so everything here is a no-op until
``kaizen_otel.configure()`` (or any OTel SDK setup) installs providers. See ``docs/agents.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaizen_otel._internal.lazy import lazy_attributes

if TYPE_CHECKING:
    from kaizen_otel.genai.budgets import BudgetLimits
    from kaizen_otel.genai.hooks import (
        AuditHook,
        BaseHook,
        HookContext,
        HookEvent,
        HookManager,
        HookResult,
        MetricsHook,
        TracingHook,
        get_hook_manager,
    )
    from kaizen_otel.genai.invocations import (
        AgentInvocation,
        LLMInvocation,
        ToolInvocation,
        agent_run,
        current_agent_run,
        llm_call,
        start_agent_run,
        start_llm_call,
        start_tool_call,
        tool_call,
    )
    from kaizen_otel.genai.pricing import ModelPrice, Pricing, load_pricing
    from kaizen_otel.genai.propagation import bind_context, extract_context, inject_context, use_context
    from kaizen_otel.genai.runtime import configure_genai, reset_genai, usage_summary

#: Each public name and the module that defines it. Imported on first use, so ``configure()`` loads
#: only what it wires (the runtime and the pricing table), not the helpers, hooks or propagators.
_LAZY = {
    "AgentInvocation": "kaizen_otel.genai.invocations",
    "AuditHook": "kaizen_otel.genai.hooks",
    "BaseHook": "kaizen_otel.genai.hooks",
    "BudgetLimits": "kaizen_otel.genai.budgets",
    "HookContext": "kaizen_otel.genai.hooks",
    "HookEvent": "kaizen_otel.genai.hooks",
    "HookManager": "kaizen_otel.genai.hooks",
    "HookResult": "kaizen_otel.genai.hooks",
    "LLMInvocation": "kaizen_otel.genai.invocations",
    "MetricsHook": "kaizen_otel.genai.hooks",
    "ModelPrice": "kaizen_otel.genai.pricing",
    "Pricing": "kaizen_otel.genai.pricing",
    "ToolInvocation": "kaizen_otel.genai.invocations",
    "TracingHook": "kaizen_otel.genai.hooks",
    "agent_run": "kaizen_otel.genai.invocations",
    "bind_context": "kaizen_otel.genai.propagation",
    "configure_genai": "kaizen_otel.genai.runtime",
    "current_agent_run": "kaizen_otel.genai.invocations",
    "extract_context": "kaizen_otel.genai.propagation",
    "get_hook_manager": "kaizen_otel.genai.hooks",
    "inject_context": "kaizen_otel.genai.propagation",
    "llm_call": "kaizen_otel.genai.invocations",
    "load_pricing": "kaizen_otel.genai.pricing",
    "reset_genai": "kaizen_otel.genai.runtime",
    "start_agent_run": "kaizen_otel.genai.invocations",
    "start_llm_call": "kaizen_otel.genai.invocations",
    "start_tool_call": "kaizen_otel.genai.invocations",
    "tool_call": "kaizen_otel.genai.invocations",
    "usage_summary": "kaizen_otel.genai.runtime",
    "use_context": "kaizen_otel.genai.propagation",
}

__all__ = [
    "AgentInvocation",
    "AuditHook",
    "BaseHook",
    "BudgetLimits",
    "HookContext",
    "HookEvent",
    "HookManager",
    "HookResult",
    "LLMInvocation",
    "MetricsHook",
    "ModelPrice",
    "Pricing",
    "ToolInvocation",
    "TracingHook",
    "agent_run",
    "bind_context",
    "configure_genai",
    "current_agent_run",
    "extract_context",
    "get_hook_manager",
    "inject_context",
    "llm_call",
    "load_pricing",
    "reset_genai",
    "start_agent_run",
    "start_llm_call",
    "start_tool_call",
    "tool_call",
    "usage_summary",
    "use_context",
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
