"""µs per agent step through the public path, against the same signals written by hand on the bare SDK.

One step = 1 agent span, 1 LLM call with token usage, 2 tool calls, their metrics (token usage,
operation duration, cost, tool calls and durations, agent runs, run duration, active runs) and 5 log
lines. The kaizen_otel side is what a user runs: ``configure()`` with its defaults (redaction, the
self-monitoring wrappers, batch processors, the Prometheus reader, process metrics), the helpers and
``get_logger``; the only change is at the exporter seam, where the console span and log exporters
are swapped for exporters that count and drop. The bare side builds the same pipeline shape by
hand: batch span and log processors with the same dropping exporters, a metric reader, and the
step's spans, metric records and log records through the SDK and the logs API.

Both run in one child process (``configure()`` installs globals once per process), in alternating
rounds; a round is timed in process CPU time (batch worker threads included) and ends by flushing
its own side's processors, so each side pays for its own export work. The ratio is the median of
the per-round ratios. Also measured: the step with no instrumentation, and the same kaizen step
before ``configure()`` (the no-op path). The benchmark prints what each side emitted.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

try:
    from benchmarks._util import run_child, table
except ImportError:  # run as a script
    from _util import run_child, table  # type: ignore[no-redef]

from kaizen_otel.genai import semconv as sc

STEPS = 400
ROUNDS = 21


class CountingDropSpans(SpanExporter):
    """Counts and discards spans: measures the pipeline, not a destination."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[object]) -> SpanExportResult:  # type: ignore[override]
        self.count += len(spans)
        return SpanExportResult.SUCCESS


class CountingDropLogs(LogRecordExporter):
    """Counts and discards log records."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, batch: Sequence[object]) -> LogRecordExportResult:  # type: ignore[override]
        self.count += len(batch)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _work() -> int:
    """The agent's own work in a step (kept tiny so the instrumentation cost shows)."""
    return sum(range(20))


def step_none() -> None:
    _work()
    _work()
    _work()


def make_kaizen() -> Callable[[], None]:
    from kaizen_otel import agent_run, get_logger, llm_call, tool_call

    log = get_logger("bench")

    def step() -> None:
        with agent_run("planner"):
            log.info("step started")
            with llm_call("openai", "gpt-4o-mini") as call:
                _work()
                call.record_usage(input_tokens=420, output_tokens=80)
                call.set_response(model="gpt-4o-mini", finish_reasons=("stop",))
            log.info("model answered")
            with tool_call("search"):
                _work()
            log.info("search done")
            with tool_call("fetch"):
                _work()
            log.info("fetch done")
            log.info("step finished")

    return step


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


@dataclass
class BareSide:
    """The step written by hand on the bare SDK, its flush, and what it emitted."""

    step: Callable[[], None]
    flush: Callable[[], None]
    spans: CountingDropSpans
    logs: CountingDropLogs
    reader: InMemoryMetricReader


def make_bare_side() -> BareSide:
    """The bare side every comparison measures against: batch processors into counting drops."""
    spans, logs = CountingDropSpans(), CountingDropLogs()
    tp = TracerProvider(shutdown_on_exit=False)
    span_processor = BatchSpanProcessor(spans)
    tp.add_span_processor(span_processor)
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    lp = LoggerProvider(shutdown_on_exit=False)
    log_processor = BatchLogRecordProcessor(logs)
    lp.add_log_record_processor(log_processor)

    def flush() -> None:
        span_processor.force_flush()
        log_processor.force_flush()

    return BareSide(make_bare(tp, mp, lp), flush, spans, logs, reader)


def _cpu(fn: Callable[[], None], steps: int, flush: Callable[[], object] = lambda: None) -> float:
    """µs of process CPU per step (worker threads included), the round's export flushed inside."""
    gc.collect()
    started = time.process_time()
    for _ in range(steps):
        fn()
    flush()
    return (time.process_time() - started) / steps * 1e6


def _metric_points(reader: InMemoryMetricReader) -> int:
    data = reader.get_metrics_data()
    return sum(
        len(metric.data.data_points)
        for resource in (data.resource_metrics if data else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )


def configure_dropping(**settings: Any) -> tuple[Any, CountingDropSpans, CountingDropLogs]:
    """``configure()`` with its defaults (or ``settings``), the console span and log exporters
    swapped for drops."""
    import kaizen_otel
    from kaizen_otel._internal import providers

    spans, logs = CountingDropSpans(), CountingDropLogs()
    providers._console_span_exporter = lambda fmt: spans  # type: ignore[assignment]
    providers._console_log_exporter = lambda fmt: logs  # type: ignore[assignment]
    obs = kaizen_otel.configure(
        service_name="bench",
        traces_exporter="console",
        logs_exporter="console",
        prometheus_host="127.0.0.1",
        prometheus_port=0,
        **settings,
    )
    return obs, spans, logs


def child(steps: int, rounds: int) -> dict[str, object]:
    """The measurement, in a process of its own: configure() sets globals once per process."""
    kaizen_step = make_kaizen()
    noop = statistics.median(_cpu(kaizen_step, steps * 10) for _ in range(5))

    bare_side = make_bare_side()
    bare, bare_flush = bare_side.step, bare_side.flush
    bare_spans, bare_logs, bare_reader = bare_side.spans, bare_side.logs, bare_side.reader

    obs, kaizen_spans, kaizen_logs = configure_dropping()
    from opentelemetry import trace
    from opentelemetry._logs import get_logger_provider

    def kaizen_flush() -> None:
        trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
        get_logger_provider().force_flush()  # type: ignore[attr-defined]

    for fn, flush in ((step_none, lambda: None), (bare, bare_flush), (kaizen_step, kaizen_flush)):
        _cpu(fn, steps // 4, flush)  # warm up caches and code paths
    counted = (bare_spans.count, bare_logs.count, kaizen_spans.count, kaizen_logs.count)
    samples: dict[str, list[float]] = {"none": [], "bare": [], "kaizen": []}
    for _ in range(rounds):
        samples["none"].append(_cpu(step_none, steps))
        samples["bare"].append(_cpu(bare, steps, bare_flush))
        samples["kaizen"].append(_cpu(kaizen_step, steps, kaizen_flush))
    measured_steps = steps * rounds
    with urllib.request.urlopen(obs.metrics_url) as response:
        exposition = response.read().decode()
    obs.shutdown()
    med = {k: statistics.median(v) for k, v in samples.items()}
    ratios = [k / b for k, b in zip(samples["kaizen"], samples["bare"], strict=True)]
    return {
        "none_us": med["none"],
        "bare_sdk_us": med["bare"],
        "kaizen_us": med["kaizen"],
        "kaizen_vs_bare": statistics.median(ratios),
        "kaizen_vs_bare_iqr": _quartiles(ratios),
        "noop_before_configure_us": noop,
        "emitted_per_step": {
            "bare": {
                "spans": (bare_spans.count - counted[0]) / measured_steps,
                "logs": (bare_logs.count - counted[1]) / measured_steps,
                "metric_series": _metric_points(bare_reader),
            },
            "kaizen": {
                "spans": (kaizen_spans.count - counted[2]) / measured_steps,
                "logs": (kaizen_logs.count - counted[3]) / measured_steps,
                "metric_series": _step_series(exposition),
            },
        },
    }


def _step_series(exposition: str) -> int:
    """Series of the step's own families on /metrics (not process, runtime or self-monitoring)."""
    own = ("gen_ai_", "kaizen_agent_", "kaizen_tool_", "kaizen_cost_", "kaizen_llm_")
    return sum(
        1
        for line in exposition.splitlines()
        if line.startswith(own)
        and not line.startswith("#")
        and "_bucket{" not in line
        and not line.split("{")[0].endswith(("_sum", "_created"))
    )


def _quartiles(values: list[float]) -> list[float]:
    q = statistics.quantiles(values, n=4)
    return [q[0], q[2]]


def main(steps: int = STEPS, rounds: int = ROUNDS) -> dict[str, object]:
    results: dict[str, object] = run_child(
        "benchmarks.bench_agent_step", "--child", str(steps), str(rounds), timeout=600
    )
    med = {k: float(results[k]) for k in ("none_us", "bare_sdk_us", "kaizen_us")}  # type: ignore[arg-type]
    quartiles = results["kaizen_vs_bare_iqr"]
    print(
        table(
            ["variant", "µs/step", "vs bare SDK"],
            [
                ["no instrumentation", med["none_us"], med["none_us"] / med["bare_sdk_us"]],
                ["bare OTel SDK, by hand", med["bare_sdk_us"], 1.0],
                [
                    "kaizen_otel, configure() defaults",
                    med["kaizen_us"],
                    f"{results['kaizen_vs_bare']:.3f} (middle half {quartiles[0]:.3f}-{quartiles[1]:.3f})",  # type: ignore[index]
                ],
                ["kaizen_otel before configure()", results["noop_before_configure_us"], "-"],
            ],
        )
    )
    emitted = results["emitted_per_step"]
    for side in ("bare", "kaizen"):
        counts = emitted[side]  # type: ignore[index]
        print(
            f"{side:>6} emitted per step: {counts['spans']:.2f} spans, {counts['logs']:.2f} log records; "
            f"{counts['metric_series']} metric series of the step's families at the end"
        )
    print(
        "step = 1 agent span, 1 LLM call with usage, 2 tool calls, their metrics, 5 log lines; process "
        f"CPU time, median of {rounds} alternating rounds of {steps} steps, each round's export flushed"
    )
    return results


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(int(sys.argv[2]), int(sys.argv[3]))))
    else:
        main()
