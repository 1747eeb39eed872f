"""Agent instrumentation in the GenAI semantic conventions: runs, LLM calls, tool calls.

Spans, metrics and logs go through the OpenTelemetry API only, so everything here is a no-op until
``kaizen_otel.configure()`` (or any OTel SDK setup) installs providers. See ``docs/agents.md``.
"""

from __future__ import annotations

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
