"""The public surface: what `import kaizen_otel` offers and what it must not do."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_package_has_no_side_effects() -> None:
    code = (
        "import os, threading, sys\n"
        "before = dict(os.environ); threads = threading.active_count()\n"
        "import kaizen_otel\n"
        "from opentelemetry import trace\n"
        "assert dict(os.environ) == before, 'environment changed'\n"
        "assert threading.active_count() == threads, 'thread started'\n"
        "assert type(trace.get_tracer_provider()).__name__ == 'ProxyTracerProvider'\n"
        "assert 'opentelemetry.sdk.trace' not in sys.modules, 'SDK imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_public_name_resolves() -> None:
    import kaizen_otel
    import kaizen_otel.genai

    for package in (kaizen_otel, kaizen_otel.genai):
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"
        assert dir(package) == sorted(package.__all__)


def test_an_unknown_name_is_an_attribute_error_naming_the_package() -> None:
    import pytest

    import kaizen_otel

    with pytest.raises(AttributeError, match="module 'kaizen_otel' has no attribute 'confgure'"):
        kaizen_otel.confgure  # noqa: B018


def test_the_public_api_is_exactly_what_the_docs_promise() -> None:
    import kaizen_otel

    assert sorted(kaizen_otel.__all__) == [
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
