"""Memory with unbounded names: RSS after many agent steps, each under a new agent, model and tool name.

A long-running process that names agents after tasks or users meets a new name at every step.
Every per-agent, per-model and per-tool structure (heartbeats, attribute caches, budgets, metric
series) must then be capped or expire. Each side runs in a fresh process: kaizen_otel through
``configure()`` with its defaults (the console span and log exporters swapped for dropping ones at
the exporter seam), and the bare SDK doing the same steps by hand with the same pipeline shape.
RSS is read from ``/proc/self/status`` at the start, halfway and at the end; the ratio compares
the end RSS of the two sides (aim ≤ 1.2x), and growth over the second half shows whether it is
still rising.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

try:
    from benchmarks._util import run_child, table
except ImportError:  # run as a script
    from _util import run_child, table  # type: ignore[no-redef]

STEPS = 100_000


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _kaizen_step() -> Any:
    import kaizen_otel
    from benchmarks.bench_agent_step import CountingDropLogs, CountingDropSpans
    from kaizen_otel import agent_run, get_logger, llm_call, tool_call
    from kaizen_otel._internal import providers

    spans, logs = CountingDropSpans(), CountingDropLogs()
    providers._console_span_exporter = lambda fmt: spans  # type: ignore[assignment]
    providers._console_log_exporter = lambda fmt: logs  # type: ignore[assignment]
    kaizen_otel.configure(
        service_name="memory",
        traces_exporter="console",
        logs_exporter="console",
        prometheus_host="127.0.0.1",
        prometheus_port=0,
    )
    log = get_logger("memory")

    def step(i: int) -> None:
        with agent_run(f"agent-{i}"):
            with llm_call("openai", f"model-{i}") as call:
                call.record_usage(input_tokens=100, output_tokens=20)
            with tool_call(f"tool-{i}"):
                pass
            log.info("step done", step=i)

    return step


def _bare_step() -> Any:
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from benchmarks.bench_agent_step import CountingDropLogs, CountingDropSpans
    from kaizen_otel.genai import semconv as sc

    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(CountingDropSpans()))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    lp = LoggerProvider()
    lp.add_log_record_processor(BatchLogRecordProcessor(CountingDropLogs()))
    tracer, meter, logger = tp.get_tracer("bare"), mp.get_meter("bare"), lp.get_logger("bare")
    # The same metric families and attributes the helpers record, each under the step's names.
    tokens = meter.create_histogram(sc.METRIC_TOKEN_USAGE, "{token}")
    duration = meter.create_histogram(sc.METRIC_OPERATION_DURATION, "s")
    cost = meter.create_counter(sc.METRIC_COST, sc.UNIT_USD)
    tool_calls = meter.create_counter(sc.METRIC_TOOL_CALLS, "{call}")
    tool_duration = meter.create_histogram(sc.METRIC_TOOL_DURATION, "s")
    runs = meter.create_counter(sc.METRIC_AGENT_RUNS, "{run}")
    run_duration = meter.create_histogram(sc.METRIC_AGENT_RUN_DURATION, "s")
    active = meter.create_up_down_counter(sc.METRIC_AGENT_ACTIVE_RUNS, "{run}")

    def step(i: int) -> None:
        agent, model, tool = f"agent-{i}", f"model-{i}", f"tool-{i}"
        agent_attrs = {"gen_ai.agent.name": agent}
        with tracer.start_as_current_span(f"invoke_agent {agent}", attributes=agent_attrs):
            active.add(1, agent_attrs)
            op = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": model,
            }
            with tracer.start_as_current_span(f"chat {model}", attributes=op):
                tokens.record(100, {**op, "gen_ai.token.type": "input"})
                tokens.record(20, {**op, "gen_ai.token.type": "output"})
            duration.record(0.001, op)
            cost.add(1e-5, {"gen_ai.provider.name": "openai", "gen_ai.request.model": model, **agent_attrs})
            with tracer.start_as_current_span(f"execute_tool {tool}"):
                pass
            tool_attrs = {"gen_ai.tool.name": tool, **agent_attrs, "kaizen.outcome": "success"}
            tool_calls.add(1, tool_attrs)
            tool_duration.record(0.001, tool_attrs)
            logger.emit(severity_number=SeverityNumber.INFO, body="step done", attributes={"step": i})
        run_attrs = {**agent_attrs, "kaizen.outcome": "success"}
        runs.add(1, run_attrs)
        run_duration.record(0.002, run_attrs)
        active.add(-1, agent_attrs)

    return step


def child(side: str, steps: int) -> dict[str, float]:
    start = _rss_mb()
    step = _kaizen_step() if side == "kaizen" else _bare_step()
    for i in range(steps // 2):
        step(i)
    half = _rss_mb()
    for i in range(steps // 2, steps):
        step(i)
    return {
        "start_mb": start,
        "half_mb": half,
        "end_mb": _rss_mb(),
        "threads": float(len(os.listdir("/proc/self/task"))),
    }


def _run(side: str, steps: int) -> dict[str, float]:
    return run_child("benchmarks.bench_memory", "--child", side, str(steps))  # type: ignore[no-any-return]


def main(steps: int = STEPS) -> dict[str, Any]:
    sides = {side: _run(side, steps) for side in ("bare", "kaizen")}
    ratio = sides["kaizen"]["end_mb"] / sides["bare"]["end_mb"]
    print(
        table(
            [
                "side",
                "RSS start MB",
                f"after {steps // 2:,}",
                f"after {steps:,}",
                "second-half growth",
                "threads",
            ],
            [
                [
                    side,
                    r["start_mb"],
                    r["half_mb"],
                    r["end_mb"],
                    f"{r['end_mb'] - r['half_mb']:+.1f} MB",
                    int(r["threads"]),
                ]
                for side, r in sides.items()
            ],
        )
    )
    print(
        f"kaizen / bare RSS after {steps:,} steps with a new agent, model and tool name each: "
        f"{ratio:.2f}x (aim <= 1.2x)"
    )
    return {
        "steps": steps,
        **{f"{side}_{k}": v for side, r in sides.items() for k, v in r.items()},
        "kaizen_vs_bare": ratio,
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
