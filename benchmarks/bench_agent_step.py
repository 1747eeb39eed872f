"""µs per agent step: kaizen_otel helpers vs the same signals written by hand with the bare OTel SDK.

One step = 1 agent span, 1 LLM call with token usage, 2 tool calls, their metrics (token usage,
operation duration, cost, tool calls and durations, agent runs, run duration, active runs) and 5 log
lines through the OTel logs API. Both instrumented variants get identical SDK providers (simple
span and log processors with exporters that drop, an in-memory metric reader): synchronous
processors bill each variant its own processing, where batch worker threads would bill one
variant's export to whichever variant runs next. The difference is the instrumentation code.
Also measured in the same run: the step with no instrumentation at all, and the helpers before
anything is configured (the no-op path). Variants alternate in short rounds, timed in thread CPU
time; the ratio is the median of the per-round ratios, which a load change on a shared machine
affects least.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

try:
    from benchmarks._util import table
except ImportError:  # run as a script
    from _util import table  # type: ignore[no-redef]

from benchmarks._util import DropLogs, DropSpans
from kaizen_otel._internal.settings import resolve
from kaizen_otel.genai import agent_run, configure_genai, llm_call, reset_genai, tool_call
from kaizen_otel.genai import semconv as sc

STEPS = 500
ROUNDS = 31


def _work() -> int:
    """The agent's own work in a step (kept tiny so the instrumentation cost shows)."""
    return sum(range(20))


def step_none() -> None:
    _work()
    _work()
    _work()


def step_kaizen() -> None:
    with agent_run("planner") as run:
        run.log("step started")
        with llm_call("openai", "gpt-4o-mini") as call:
            _work()
            call.record_usage(input_tokens=420, output_tokens=80)
            call.set_response(model="gpt-4o-mini", finish_reasons=("stop",))
        run.log("model answered")
        with tool_call("search"):
            _work()
        run.log("search done")
        with tool_call("fetch"):
            _work()
        run.log("fetch done")
        run.log("step finished")


def make_bare(tp: TracerProvider, mp: MeterProvider, lp: LoggerProvider) -> Callable[[], None]:
    """The same signals by hand, the way a careful user writes them with the SDK."""
    tracer = tp.get_tracer("bare")
    meter = mp.get_meter("bare")
    logger = lp.get_logger("bare")
    token_usage = meter.create_histogram(
        sc.METRIC_TOKEN_USAGE, "{token}", explicit_bucket_boundaries_advisory=sc.TOKEN_USAGE_BUCKETS
    )
    duration = meter.create_histogram(
        sc.METRIC_OPERATION_DURATION, "s", explicit_bucket_boundaries_advisory=sc.OPERATION_DURATION_BUCKETS
    )
    cost = meter.create_counter(sc.METRIC_COST, sc.UNIT_USD)
    tool_calls = meter.create_counter(sc.METRIC_TOOL_CALLS, "{call}")
    tool_duration = meter.create_histogram(
        sc.METRIC_TOOL_DURATION, "s", explicit_bucket_boundaries_advisory=sc.TOOL_DURATION_BUCKETS
    )
    runs = meter.create_counter(sc.METRIC_AGENT_RUNS, "{run}")
    run_duration = meter.create_histogram(
        sc.METRIC_AGENT_RUN_DURATION, "s", explicit_bucket_boundaries_advisory=sc.RUN_DURATION_BUCKETS
    )
    active = meter.create_up_down_counter(sc.METRIC_AGENT_ACTIVE_RUNS, "{run}")
    op_attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini",
    }
    in_attrs = {**op_attrs, "gen_ai.token.type": "input"}
    out_attrs = {**op_attrs, "gen_ai.token.type": "output"}
    cost_attrs = {
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.agent.name": "planner",
    }
    run_attrs = {"gen_ai.agent.name": "planner", "kaizen.outcome": "success"}
    agent_attrs = {"gen_ai.agent.name": "planner"}
    price_in, price_out = 0.15e-6, 0.6e-6
    perf = time.perf_counter

    def log(body: str) -> None:
        logger.emit(
            timestamp=time.time_ns(), severity_number=SeverityNumber.INFO, severity_text="INFO", body=body
        )

    def tool(name: str) -> None:
        started = perf()
        with tracer.start_as_current_span(
            f"execute_tool {name}",
            kind=SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.tool.type": "function",
                "gen_ai.agent.name": "planner",
            },
        ):
            _work()
        attrs = {"gen_ai.tool.name": name, "gen_ai.agent.name": "planner", "kaizen.outcome": "success"}
        tool_calls.add(1, attrs)
        tool_duration.record(perf() - started, attrs)

    def step() -> None:
        run_started = perf()
        with tracer.start_as_current_span(
            "invoke_agent planner",
            kind=SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "planner",
            },
        ) as agent_span:
            active.add(1, agent_attrs)
            log("step started")
            started = perf()
            with tracer.start_as_current_span(
                "chat gpt-4o-mini",
                kind=SpanKind.CLIENT,
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.agent.name": "planner",
                },
            ) as span:
                _work()
                usd = 420 * price_in + 80 * price_out
                span.set_attributes(
                    {
                        "gen_ai.response.model": "gpt-4o-mini",
                        "gen_ai.response.finish_reasons": ("stop",),
                        "gen_ai.usage.input_tokens": 420,
                        "gen_ai.usage.output_tokens": 80,
                        "kaizen.cost.usd": usd,
                    }
                )
            duration.record(perf() - started, op_attrs)
            token_usage.record(420, in_attrs)
            token_usage.record(80, out_attrs)
            cost.add(usd, cost_attrs)
            log("model answered")
            tool("search")
            log("search done")
            tool("fetch")
            log("fetch done")
            log("step finished")
            agent_span.set_attributes(
                {"kaizen.run.cost.usd": usd, "kaizen.run.tokens": 500, "kaizen.run.iterations": 0}
            )
        runs.add(1, run_attrs)
        run_duration.record(perf() - run_started, run_attrs)
        active.add(-1, agent_attrs)

    return step


def _time(fn: Callable[[], None], steps: int) -> float:
    """µs of this thread's CPU per call: other processes on a shared machine do not count."""
    gc.collect()
    started = time.thread_time()
    for _ in range(steps):
        fn()
    return (time.thread_time() - started) / steps * 1e6


def _providers() -> tuple[TracerProvider, MeterProvider, LoggerProvider]:
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(DropSpans()))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    lp = LoggerProvider()
    lp.add_log_record_processor(SimpleLogRecordProcessor(DropLogs()))
    return tp, mp, lp


def main(steps: int = STEPS, rounds: int = ROUNDS) -> dict[str, float]:
    reset_genai()
    noop = [_time(step_kaizen, steps * 10) for _ in range(5)]
    bare_providers = _providers()
    kaizen_providers = _providers()
    bare = make_bare(*bare_providers)
    settings = resolve({"process_metrics": False}, environ={}).settings
    tp, mp, lp = kaizen_providers
    configure_genai(settings, tracer_provider=tp, meter_provider=mp, logger_provider=lp)
    try:
        for fn in (step_none, bare, step_kaizen):  # warm up caches and code paths
            _time(fn, steps // 5)
        samples: dict[str, list[float]] = {"none": [], "bare": [], "kaizen": []}
        for _ in range(rounds):
            samples["none"].append(_time(step_none, steps))
            samples["bare"].append(_time(bare, steps))
            samples["kaizen"].append(_time(step_kaizen, steps))
    finally:
        reset_genai()
        for providers in (bare_providers, kaizen_providers):
            for provider in providers:
                provider.shutdown()
    med = {k: statistics.median(v) for k, v in samples.items()}
    ratio = statistics.median(k / b for k, b in zip(samples["kaizen"], samples["bare"], strict=True))
    results = {
        "none_us": med["none"],
        "bare_sdk_us": med["bare"],
        "kaizen_us": med["kaizen"],
        "kaizen_vs_bare": ratio,
        "noop_before_configure_us": statistics.median(noop),
        "noop_vs_none_us": statistics.median(noop) - med["none"],
    }
    print(
        table(
            ["variant", "µs/step", "vs bare SDK"],
            [
                ["no instrumentation", med["none"], med["none"] / med["bare"]],
                ["bare OTel SDK, by hand", med["bare"], 1.0],
                ["kaizen_otel helpers", med["kaizen"], results["kaizen_vs_bare"]],
                ["kaizen_otel before configure()", results["noop_before_configure_us"], "-"],
            ],
        )
    )
    print(
        f"step = 1 agent span, 1 LLM call with usage, 2 tool calls, their metrics, 5 log lines; "
        f"thread CPU time, median of {rounds} alternating rounds of {steps} steps"
    )
    return results


if __name__ == "__main__":
    main()
