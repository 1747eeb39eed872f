"""The agent mixin: enable_observability() on any agent class, and cleanup()."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

import kaizen_otel
from kaizen_otel import HookEvent, ObservabilityManager, ObservabilityMixin
from tests.testbed.servers import Prometheus, Rotel


class QAAgent(ObservabilityMixin):
    """The smallest agent: an id and a run()."""

    def __init__(self, agent_id: str = "qa-agent") -> None:
        self.agent_id = agent_id
        self.runs = 0

    def run(self, question: str) -> dict[str, Any]:
        self.runs += 1
        if question == "fail":
            raise RuntimeError("model down")
        self._hook_manager.trigger_sync(HookEvent.PRE_TOOL_USE, self.agent_id, {"tool_name": "search"})
        self._hook_manager.trigger_sync(HookEvent.POST_TOOL_USE, self.agent_id, {"tool_name": "search"})
        return {"answer": f"answer to {question}"}


class AsyncAgent(ObservabilityMixin):
    async def run(self, question: str) -> str:
        await asyncio.sleep(0)
        return question.upper()


@pytest.fixture
def otlp(rotel: Rotel, compat_env: pytest.MonkeyPatch) -> Rotel:
    for name, value in rotel.otlp_env("grpc").items():
        compat_env.setenv(name, value)
    return rotel


def test_an_agent_that_never_enables_observability_is_untouched() -> None:
    agent = QAAgent()
    assert agent.run("q") == {"answer": "answer to q"}
    assert "run" not in vars(agent) and agent._observability_manager is None
    assert kaizen_otel.get_observability() is None  # nothing configured, nothing installed
    agent.cleanup()  # harmless


def test_enabling_returns_the_manager_named_after_the_agent_and_registers_the_hooks(otlp: Rotel) -> None:
    agent = QAAgent("researcher-1")
    obs = agent.enable_observability()
    assert isinstance(obs, ObservabilityManager)
    assert obs.get_service_name() == "researcher-1"
    names = sorted(type(h).__name__ for h in agent._hook_manager.hooks)
    assert names == ["AuditHook", "LoggingHook", "RunMetricsHook", "RunTracingHook"]
    agent.cleanup()
    assert agent._hook_manager.hooks == () and obs.closed


def test_the_lightweight_mode_registers_only_metrics_and_logging_hooks() -> None:
    agent = QAAgent()
    agent.enable_observability(enable_tracing=False, enable_audit=False)
    assert sorted(type(h).__name__ for h in agent._hook_manager.hooks) == ["LoggingHook", "MetricsHook"]
    agent.run("q")
    agent.cleanup()


def test_a_failing_run_is_recorded_as_a_failure_and_the_error_still_reaches_the_caller(
    audit_path: Path,
) -> None:
    agent = QAAgent()
    obs = agent.enable_observability(enable_tracing=False, enable_logging=False, enable_metrics=False)
    with pytest.raises(RuntimeError, match="model down"):
        agent.run("fail")
    (entry,) = asyncio.run(obs.query_audit_by_action("post_agent_loop"))
    assert entry.result == "failure" and entry.details["error_type"] == "RuntimeError"
    agent.cleanup()


def test_an_async_run_is_observed_as_an_async_run(audit_path: Path) -> None:
    agent = AsyncAgent()
    obs = agent.enable_observability(enable_tracing=False, enable_logging=False)
    assert asyncio.run(agent.run("hi")) == "HI"
    actions = [e.action for e in asyncio.run(obs.query_audit_by_agent("AsyncAgent"))]
    assert actions == ["post_agent_loop"]
    agent.cleanup()


def test_enabling_twice_replaces_the_hooks_instead_of_doubling_them() -> None:
    agent = QAAgent()
    first = agent.enable_observability(enable_tracing=False, enable_audit=False)
    agent.enable_observability(enable_tracing=False, enable_audit=False, enable_logging=False)
    assert first.closed
    assert [type(h).__name__ for h in agent._hook_manager.hooks] == ["MetricsHook"]
    agent.cleanup()


class _Base:
    def __init__(self) -> None:
        self.cleaned = False

    def cleanup(self) -> None:
        self.cleaned = True


class FrameworkAgent(ObservabilityMixin, _Base):
    def run(self) -> int:
        return 1


def test_cleanup_also_runs_the_agent_class_own_cleanup() -> None:
    agent = FrameworkAgent()
    agent.enable_observability(enable_tracing=False, enable_audit=False)
    agent.cleanup()
    assert agent.cleaned


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def test_an_agent_run_shows_on_metrics_in_spans_at_the_receiver_and_in_a_verified_audit_trail(
    otlp: Rotel, prometheus: Prometheus, audit_path: Path, compat_env: pytest.MonkeyPatch
) -> None:
    service = f"mixin-{uuid.uuid4().hex[:8]}"
    compat_env.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    agent = QAAgent(service)
    obs = agent.enable_observability()
    for question in ("What is Kaizen?", "And OTel?"):
        agent.run(question)
    handle = obs.handle
    assert handle is not None and handle.metrics_url is not None

    page = _get(handle.metrics_url)
    assert f'kaizen_agent_runs_total{{gen_ai_agent_name="{service}",kaizen_outcome="success"}} 2.0' in page
    assert 'kaizen_tool_calls_total{gen_ai_tool_name="search",kaizen_outcome="success"} 2.0' in page
    target = handle.metrics_url.split("/")[2]
    prometheus.add_target(target, job=service)
    try:
        scraped = prometheus.wait_for(f'kaizen_agent_runs_total{{job="{service}"}}', timeout=30)
        assert float(scraped[0]["value"][1]) == 2.0
    finally:
        prometheus.remove_target(target)

    agent.cleanup()  # flushes the spans
    spans = otlp.wait_for(lambda r: r["signal"] == "span" and r["service_name"] == service, count=4)
    runs = [s for s in spans if s["name"] == f"invoke_agent {service}"]
    tools = [s for s in spans if s["name"] == "execute_tool search"]
    assert len(runs) == 2 and len(tools) == 2
    assert {t["parent_span_id"] for t in tools} == {r["span_id"] for r in runs}

    lines = [json.loads(line) for line in audit_path.read_text().splitlines()]
    records = [r for r in lines if r["kind"] == "record" and r["agent_id"] == service]
    assert [r["action"] for r in records] == ["post_tool_use", "post_agent_loop"] * 2
    assert {r["trace_id"] for r in records} == {r["trace_id"] for r in runs}  # tied to the run's trace
    kaizen_otel.shutdown()  # closes the process's trail with a close seal
    verified = subprocess.run(
        [sys.executable, "-m", "kaizen_otel.cli", "audit", "verify", str(audit_path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True


class InstrumentedAgent(ObservabilityMixin):
    """An agent whose run() calls code with its own OpenTelemetry spans (an instrumented client)."""

    agent_id = "instrumented"

    def run(self) -> None:
        from opentelemetry import trace

        with trace.get_tracer("some.http.client").start_as_current_span("POST /v1/chat/completions"):
            pass


def test_spans_started_inside_run_are_children_of_the_run_span(otlp: Rotel) -> None:
    agent = InstrumentedAgent()
    obs = agent.enable_observability(service_name=f"nest-{uuid.uuid4().hex[:8]}", enable_audit=False)
    agent.run()
    agent.cleanup()
    name = obs.get_service_name()
    spans = otlp.wait_for(lambda r: r["signal"] == "span" and r["service_name"] == name, count=2)
    by_name = {s["name"]: s for s in spans}
    run, client = by_name[f"invoke_agent {name}"], by_name["POST /v1/chat/completions"]
    assert client["parent_span_id"] == run["span_id"] and run["parent_span_id"] == ""
    assert run["attributes"]["gen_ai.operation.name"] == "invoke_agent"
    assert run["attributes"]["gen_ai.agent.id"] == "instrumented"


def test_a_failed_run_span_names_the_error_type(otlp: Rotel) -> None:
    agent = QAAgent(f"failing-{uuid.uuid4().hex[:8]}")
    obs = agent.enable_observability(enable_audit=False)
    with pytest.raises(RuntimeError):
        agent.run("fail")
    agent.cleanup()
    name = obs.get_service_name()
    (run,) = otlp.wait_for(lambda r: r["signal"] == "span" and r["name"] == f"invoke_agent {name}")
    assert run["status"]["code"] == 2 and run["attributes"]["error.type"] == "RuntimeError"


def test_events_to_trace_without_the_agent_loop_trace_only_the_tools(otlp: Rotel) -> None:
    agent = QAAgent(f"tools-only-{uuid.uuid4().hex[:8]}")
    obs = agent.enable_observability(
        enable_audit=False, events_to_trace=[HookEvent.PRE_TOOL_USE, HookEvent.POST_TOOL_USE]
    )
    agent.run("q")
    agent.cleanup()
    name = obs.get_service_name()
    (tool,) = otlp.wait_for(lambda r: r["signal"] == "span" and r["service_name"] == name)
    assert tool["name"] == "execute_tool search" and tool["parent_span_id"] == ""


class PayingAgent(ObservabilityMixin):
    """An agent whose run() makes a priced model call through the helpers."""

    agent_id = "paying"

    def run(self) -> None:
        with kaizen_otel.llm_call("openai", "gpt-4o") as call:
            call.record_usage(input_tokens=1000, output_tokens=200)


def test_the_run_span_is_a_genai_run_whose_model_calls_roll_up_into_it(otlp: Rotel) -> None:
    agent = PayingAgent()
    obs = agent.enable_observability(service_name=f"paying-{uuid.uuid4().hex[:8]}", enable_audit=False)
    agent.run()
    handle = obs.handle
    assert handle is not None and handle.metrics_url is not None
    name = obs.get_service_name()
    page = _get(handle.metrics_url)
    assert f'kaizen_agent_runs_total{{gen_ai_agent_name="{name}",kaizen_outcome="success"}} 1.0' in page
    agent.cleanup()
    spans = otlp.wait_for(lambda r: r["signal"] == "span" and r["service_name"] == name, count=2)
    by_name = {s["name"]: s for s in spans}
    run, chat = by_name[f"invoke_agent {name}"], by_name["chat gpt-4o"]
    assert chat["parent_span_id"] == run["span_id"]
    assert chat["attributes"]["kaizen.cost.usd"] > 0
    assert run["attributes"]["kaizen.run.tokens"] == 1200
    assert run["attributes"]["kaizen.run.cost.usd"] == chat["attributes"]["kaizen.cost.usd"]


def test_without_tracing_the_hooks_count_the_runs() -> None:
    agent = QAAgent(f"untraced-{uuid.uuid4().hex[:8]}")
    obs = agent.enable_observability(enable_tracing=False, enable_audit=False)
    assert "MetricsHook" in [type(h).__name__ for h in agent._hook_manager.hooks]
    agent.run("q")
    agent.run("q")
    handle = obs.handle
    assert handle is not None and handle.metrics_url is not None
    page = _get(handle.metrics_url)
    name = obs.get_service_name()
    assert f'kaizen_agent_runs_total{{gen_ai_agent_name="{name}",kaizen_outcome="success"}} 2.0' in page
    agent.cleanup()


def test_under_capture_telemetry_an_agent_run_is_captured_in_memory_and_sent_nowhere() -> None:
    from kaizen_otel.testing import capture_telemetry

    with capture_telemetry(enable_audit=True) as captured:
        agent = QAAgent("captured")
        obs = agent.enable_observability()
        tracing = obs.get_tracing_manager()
        assert tracing is not None and tracing.endpoint is None  # no exporter of its own
        agent.run("q")
        agent.cleanup()
        run = captured.span("invoke_agent captured")
        assert captured.span("execute_tool search").parent.span_id == run.context.span_id
        assert captured.value("kaizen.agent.runs", {"gen_ai.agent.name": "captured"}) == 1
        assert [e.action for e in captured.audit.query(agent_id="captured")] == [
            "post_tool_use",
            "post_agent_loop",
        ]


def test_an_explicit_span_exporter_choice_wins_over_the_documents_jaeger_default(
    compat_env: pytest.MonkeyPatch,
) -> None:
    compat_env.setenv("OTEL_TRACES_EXPORTER", "none")
    obs = ObservabilityManager(service_name="quiet", enable_audit=False)
    tracing = obs.get_tracing_manager()
    assert tracing is not None and tracing.endpoint is None
    explicit = kaizen_otel.TracingManager("quiet", jaeger_host="127.0.0.1", jaeger_port=4317)
    assert explicit.endpoint == "127.0.0.1:4317"  # asked for by name: added
    explicit.shutdown(timeout=0.1)
    obs.shutdown()
