"""No-op before configure, pick-up of providers installed by the application, and context propagation."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

from kaizen_otel.genai import (
    agent_run,
    bind_context,
    current_agent_run,
    extract_context,
    inject_context,
    llm_call,
    start_agent_run,
    tool_call,
    use_context,
)
from kaizen_otel.genai import runtime as genai_runtime


def test_helpers_do_nothing_and_return_shared_no_ops_before_configure():
    assert genai_runtime.current() is None
    with agent_run("a") as run:
        with llm_call("openai", "gpt-4o") as call:
            call.record_usage(10, 10)
            call.set_response(model="x", finish_reasons=["stop"])
        with tool_call("t") as tool:
            tool.set_result("r")
        with run.iteration():
            run.log("hello")
    assert run is call is tool
    assert start_agent_run("b") is run
    assert current_agent_run() is None


def test_decorated_functions_still_run_and_return_before_configure():
    @tool_call
    def add(a, b):
        return a + b

    assert add(1, 2) == 3


def test_exceptions_pass_through_unchanged_before_configure():
    try:
        with agent_run("a"):
            raise ValueError("mine")
    except ValueError as exc:
        assert str(exc) == "mine"


_SCRIPT = textwrap.dedent("""
    from opentelemetry import trace, metrics
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from kaizen_otel.genai import agent_run, tool_call

    with agent_run("before"):
        pass
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    with agent_run("after"), tool_call("t"):
        pass
    names = sorted(s.name for s in exporter.get_finished_spans())
    metric_names = sorted(m.name for rm in reader.get_metrics_data().resource_metrics
                          for sm in rm.scope_metrics for m in sm.metrics)
    print(names)
    print("kaizen.tool.calls" in metric_names)
""")


def test_helpers_pick_up_sdk_providers_the_application_installed_itself():
    """Without configure(), providers set with the plain SDK are used from the next call on."""
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.splitlines() == ["['execute_tool t', 'invoke_agent after']", "True"]


def test_inject_and_extract_carry_a_trace_to_another_agent(telemetry):
    with agent_run("supervisor"):
        carrier = inject_context()
    assert "traceparent" in carrier
    with agent_run("worker", context=extract_context(carrier)):
        pass
    supervisor = telemetry.span("invoke_agent supervisor")
    worker = telemetry.span("invoke_agent worker")
    assert worker.context.trace_id == supervisor.context.trace_id
    assert worker.parent.span_id == supervisor.context.span_id


def test_use_context_parents_spans_on_a_carrier_for_a_block(telemetry):
    with agent_run("supervisor"):
        carrier = dict(inject_context())
    with use_context(carrier), tool_call("remote"):
        pass
    assert (
        telemetry.span("execute_tool remote").parent.span_id
        == telemetry.span("invoke_agent supervisor").context.span_id
    )


def test_bind_context_carries_the_trace_and_the_agent_run_into_a_thread(telemetry):
    seen = {}

    def work():
        seen["run"] = current_agent_run()
        with tool_call("in-thread"):
            pass

    with agent_run("supervisor") as run:
        thread = threading.Thread(target=bind_context(work))
        thread.start()
        thread.join()
    assert seen["run"] is run
    tool = telemetry.span("execute_tool in-thread")
    assert tool.parent.span_id == telemetry.span("invoke_agent supervisor").context.span_id
    assert tool.attributes["gen_ai.agent.name"] == "supervisor"


def test_inject_context_across_a_process_boundary(telemetry):
    """A worker process continues the supervisor's trace from an environment carrier."""
    script = textwrap.dedent("""
        import json, os
        from kaizen_otel.genai import extract_context
        from opentelemetry import trace
        ctx = extract_context(json.loads(os.environ["CARRIER"]))
        sc = trace.get_current_span(ctx).get_span_context()
        print(format(sc.trace_id, "032x"), format(sc.span_id, "016x"))
    """)
    import json
    import os

    with agent_run("supervisor"):
        carrier = inject_context()
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "CARRIER": json.dumps(dict(carrier))},
    )
    supervisor = telemetry.span("invoke_agent supervisor")
    assert out.stdout.split() == [
        format(supervisor.context.trace_id, "032x"),
        format(supervisor.context.span_id, "016x"),
    ]
