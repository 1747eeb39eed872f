"""One agent step per side, each written with that side's own API, exporting only to counting drops.

The step is the one of ``bench_agent_step.py``: one agent run, one LLM call with token usage and
cost, two tool calls, their metrics and five log lines. Each side uses what its SDK offers for
that (``benchmarks.peers.MAPPING`` says what, and the report prints it); where an SDK has no API
for a signal, the step writes it the way that SDK's users do, through the OpenTelemetry API on the
providers the SDK installed. Every exporter is a counting drop at the SDK's own exporter seam,
and nothing reaches the network (``child.py`` refuses any connection that is not to loopback).

Each ``setup_*`` runs only in its side's virtualenv and imports the SDK there.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.trace import SpanKind

from benchmarks.bench_agent_step import CountingDropLogs, CountingDropSpans, _metric_points, _work
from kaizen_otel.genai import semconv as sc

AGENT = "planner"
MODEL = "gpt-4o-mini"
INPUT_TOKENS, OUTPUT_TOKENS = 420, 80
PRICE_IN, PRICE_OUT = 0.15e-6, 0.6e-6  # USD per token, as the bare step prices it
USD = INPUT_TOKENS * PRICE_IN + OUTPUT_TOKENS * PRICE_OUT
LOG_LINES = ("step started", "model answered", "search done", "fetch done", "step finished")


@dataclass
class Side:
    """A configured side: its step, how to flush its export at the end of a round, what it emitted."""

    step: Callable[[], None]
    flush: Callable[[], object]
    spans: CountingDropSpans
    logs: CountingDropLogs
    metric_series: Callable[[], int]
    close: Callable[[], object] = lambda: None


class CountingDropMetrics(MetricExporter):
    """Keeps the number of data points of the last export and discards the data."""

    def __init__(self) -> None:
        super().__init__()
        self.points = 0

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.points = sum(
            len(metric.data.data_points)
            for resource in metrics_data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        )
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


class StepMetrics:
    """The step's metric records as the bare step writes them, on instruments a side creates.

    ``histogram(name, unit, buckets)``, ``counter(name, unit)`` and ``updown(name, unit)`` make the
    instruments with the side's own API.
    """

    def __init__(
        self,
        histogram: Callable[[str, str, Sequence[float]], Any],
        counter: Callable[[str, str], Any],
        updown: Callable[[str, str], Any],
    ) -> None:
        self.token_usage = histogram(sc.METRIC_TOKEN_USAGE, "{token}", sc.TOKEN_USAGE_BUCKETS)
        self.duration = histogram(sc.METRIC_OPERATION_DURATION, "s", sc.OPERATION_DURATION_BUCKETS)
        self.cost = counter(sc.METRIC_COST, sc.UNIT_USD)
        self.tool_calls = counter(sc.METRIC_TOOL_CALLS, "{call}")
        self.tool_duration = histogram(sc.METRIC_TOOL_DURATION, "s", sc.TOOL_DURATION_BUCKETS)
        self.runs = counter(sc.METRIC_AGENT_RUNS, "{run}")
        self.run_duration = histogram(sc.METRIC_AGENT_RUN_DURATION, "s", sc.RUN_DURATION_BUCKETS)
        self.active = updown(sc.METRIC_AGENT_ACTIVE_RUNS, "{run}")
        op = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": MODEL,
            "gen_ai.response.model": MODEL,
        }
        self._op = op
        self._in = {**op, "gen_ai.token.type": "input"}
        self._out = {**op, "gen_ai.token.type": "output"}
        self._cost = {
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": MODEL,
            "gen_ai.agent.name": AGENT,
        }
        self._run = {"gen_ai.agent.name": AGENT, "kaizen.outcome": "success"}
        self._agent = {"gen_ai.agent.name": AGENT}
        self._tools = {
            name: {"gen_ai.tool.name": name, "gen_ai.agent.name": AGENT, "kaizen.outcome": "success"}
            for name in ("search", "fetch")
        }

    def run_started(self) -> None:
        self.active.add(1, self._agent)

    def llm(self, seconds: float) -> None:
        self.duration.record(seconds, self._op)
        self.token_usage.record(INPUT_TOKENS, self._in)
        self.token_usage.record(OUTPUT_TOKENS, self._out)
        self.cost.add(USD, self._cost)

    def tool(self, name: str, seconds: float) -> None:
        attrs = self._tools[name]
        self.tool_calls.add(1, attrs)
        self.tool_duration.record(seconds, attrs)

    def run_ended(self, seconds: float) -> None:
        self.runs.add(1, self._run)
        self.run_duration.record(seconds, self._run)
        self.active.add(-1, self._agent)


def otel_metrics(meter: Any) -> StepMetrics:
    """StepMetrics on an OpenTelemetry meter (what users of a peer without a metrics API write)."""
    return StepMetrics(
        lambda name, unit, buckets: meter.create_histogram(
            name, unit, explicit_bucket_boundaries_advisory=buckets
        ),
        lambda name, unit: meter.create_counter(name, unit),
        lambda name, unit: meter.create_up_down_counter(name, unit),
    )


LLM_ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": MODEL,
    "gen_ai.agent.name": AGENT,
}
USAGE_ATTRIBUTES = {
    "gen_ai.response.model": MODEL,
    "gen_ai.response.finish_reasons": ("stop",),
    "gen_ai.usage.input_tokens": INPUT_TOKENS,
    "gen_ai.usage.output_tokens": OUTPUT_TOKENS,
    "kaizen.cost.usd": USD,
}
AGENT_ATTRIBUTES = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": AGENT}
RUN_ATTRIBUTES = {"kaizen.run.cost.usd": USD, "kaizen.run.tokens": 500, "kaizen.run.iterations": 0}


TOOL_ATTRIBUTES = {
    name: {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.type": "function",
        "gen_ai.agent.name": AGENT,
    }
    for name in ("search", "fetch")
}
# Span names as plain strings: logfire reads an f-string at the call site as a message template.
AGENT_SPAN, LLM_SPAN = "invoke_agent planner", "chat gpt-4o-mini"
TOOL_SPANS = {name: f"execute_tool {name}" for name in TOOL_ATTRIBUTES}


def setup_kaizen() -> Side:
    """kaizen_otel through ``configure()`` defaults, as ``bench_agent_step.py`` runs it."""
    import urllib.request

    from opentelemetry import trace
    from opentelemetry._logs import get_logger_provider

    from benchmarks.bench_agent_step import _step_series, configure_dropping, make_kaizen

    step = make_kaizen()
    obs, spans, logs = configure_dropping()

    def flush() -> None:
        trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
        get_logger_provider().force_flush()  # type: ignore[attr-defined]

    def series() -> int:
        with urllib.request.urlopen(obs.metrics_url) as response:
            return _step_series(response.read().decode())

    return Side(step, flush, spans, logs, series, close=obs.shutdown)


def setup_logfire() -> Side:
    import logfire
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    spans, logs, reader = CountingDropSpans(), CountingDropLogs(), InMemoryMetricReader()
    logfire.configure(
        send_to_logfire=False,
        console=False,
        service_name="bench",
        additional_span_processors=[BatchSpanProcessor(spans)],
        metrics=logfire.MetricsOptions(additional_readers=[reader]),
        advanced=logfire.AdvancedOptions(log_record_processors=[BatchLogRecordProcessor(logs)]),
    )
    metrics = StepMetrics(
        lambda name, unit, buckets: logfire.metric_histogram(name, unit=unit),
        lambda name, unit: logfire.metric_counter(name, unit=unit),
        lambda name, unit: logfire.metric_up_down_counter(name, unit=unit),
    )
    perf = time.perf_counter

    def tool(name: str) -> None:
        started = perf()
        with logfire.span(TOOL_SPANS[name], **TOOL_ATTRIBUTES[name]):
            _work()
        metrics.tool(name, perf() - started)

    def step() -> None:
        run_started = perf()
        with logfire.span(AGENT_SPAN, **AGENT_ATTRIBUTES) as agent_span:
            metrics.run_started()
            logfire.info(LOG_LINES[0])
            started = perf()
            with logfire.span(LLM_SPAN, _span_kind=SpanKind.CLIENT, **LLM_ATTRIBUTES) as span:
                _work()
                span.set_attributes(USAGE_ATTRIBUTES)
            metrics.llm(perf() - started)
            logfire.info(LOG_LINES[1])
            tool("search")
            logfire.info(LOG_LINES[2])
            tool("fetch")
            logfire.info(LOG_LINES[3])
            logfire.info(LOG_LINES[4])
            agent_span.set_attributes(RUN_ATTRIBUTES)
        metrics.run_ended(perf() - run_started)

    return Side(
        step, logfire.force_flush, spans, logs, lambda: _metric_points(reader), close=logfire.shutdown
    )


def _pricing_file() -> str:
    """openlit's pricing table for the one model of the step, so ``init`` never downloads its own."""
    table = {"chat": {MODEL: {"promptPrice": PRICE_IN * 1000, "completionPrice": PRICE_OUT * 1000}}}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(table, handle)
    return handle.name


def setup_openlit() -> Side:
    import openlit
    from opentelemetry import _logs, metrics, trace
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    spans, logs, reader = CountingDropSpans(), CountingDropLogs(), InMemoryMetricReader()
    tp = TracerProvider()
    span_processor = BatchSpanProcessor(spans)
    tp.add_span_processor(span_processor)
    lp = LoggerProvider()
    log_processor = BatchLogRecordProcessor(logs)
    lp.add_log_record_processor(log_processor)
    trace.set_tracer_provider(tp)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    _logs.set_logger_provider(lp)
    openlit.init(service_name="bench", pricing_json=_pricing_file(), collect_gpu_stats=False)

    step_metrics = otel_metrics(metrics.get_meter("bench"))
    logger = _logs.get_logger("bench")
    perf = time.perf_counter

    def log(body: str) -> None:
        logger.emit(
            timestamp=time.time_ns(), severity_number=SeverityNumber.INFO, severity_text="INFO", body=body
        )

    def tool(name: str) -> None:
        started = perf()
        with openlit.start_trace(TOOL_SPANS[name]) as span:
            span.set_metadata(TOOL_ATTRIBUTES[name])
            _work()
        step_metrics.tool(name, perf() - started)

    def step() -> None:
        run_started = perf()
        with openlit.agent_context(AGENT), openlit.start_trace(AGENT_SPAN) as agent_span:
            agent_span.set_metadata(AGENT_ATTRIBUTES)
            step_metrics.run_started()
            log(LOG_LINES[0])
            started = perf()
            with openlit.start_trace(LLM_SPAN) as span:
                span.set_metadata(LLM_ATTRIBUTES)
                _work()
                span.set_metadata(USAGE_ATTRIBUTES)
            step_metrics.llm(perf() - started)
            log(LOG_LINES[1])
            tool("search")
            log(LOG_LINES[2])
            tool("fetch")
            log(LOG_LINES[3])
            log(LOG_LINES[4])
            agent_span.set_metadata(RUN_ATTRIBUTES)
        step_metrics.run_ended(perf() - run_started)

    def flush() -> None:
        span_processor.force_flush()
        log_processor.force_flush()

    return Side(step, flush, spans, logs, lambda: _metric_points(reader))


def setup_traceloop() -> Side:
    from opentelemetry import metrics, trace
    from traceloop.sdk import Traceloop
    from traceloop.sdk.decorators import agent, tool
    from traceloop.sdk.logging.logging import LoggerWrapper
    from traceloop.sdk.tracing.manual import LLMUsage, track_llm_call

    spans, logs, points = CountingDropSpans(), CountingDropLogs(), CountingDropMetrics()
    Traceloop.init(
        app_name="bench",
        exporter=spans,
        metrics_exporter=points,
        logging_exporter=logs,
        telemetry_enabled=False,
    )
    # traceloop keeps its LoggerProvider to itself; its handler's flush() does not wait.
    log_provider = LoggerWrapper.instance._LoggerWrapper__logging_provider  # type: ignore[attr-defined]
    step_metrics = otel_metrics(metrics.get_meter("bench"))
    log = logging.getLogger("bench")
    llm_extra = {
        "gen_ai.operation.name": "chat",
        "gen_ai.agent.name": AGENT,
        "gen_ai.response.finish_reasons": ("stop",),
        "kaizen.cost.usd": USD,
    }
    usage = LLMUsage(prompt_tokens=INPUT_TOKENS, completion_tokens=OUTPUT_TOKENS, total_tokens=500)
    perf = time.perf_counter

    @tool(name="search")
    def search() -> None:
        _work()

    @tool(name="fetch")
    def fetch() -> None:
        _work()

    def timed(name: str, fn: Callable[[], None]) -> None:
        started = perf()
        fn()
        step_metrics.tool(name, perf() - started)

    @agent(name=AGENT)
    def run() -> None:
        step_metrics.run_started()
        log.info(LOG_LINES[0])
        started = perf()
        with track_llm_call(vendor="openai", type="chat") as call:
            call.report_request(model=MODEL, messages=[])
            _work()
            call.report_response(MODEL, [])
            call.report_usage(usage)
            # what track_llm_call has no method for goes on its span, the current one
            trace.get_current_span().set_attributes(llm_extra)
        step_metrics.llm(perf() - started)
        log.info(LOG_LINES[1])
        timed("search", search)
        log.info(LOG_LINES[2])
        timed("fetch", fetch)
        log.info(LOG_LINES[3])
        log.info(LOG_LINES[4])
        trace.get_current_span().set_attributes(RUN_ATTRIBUTES)

    def step() -> None:
        run_started = perf()
        run()
        step_metrics.run_ended(perf() - run_started)

    def flush() -> None:
        trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
        log_provider.force_flush()

    def series() -> int:
        metrics.get_meter_provider().force_flush()  # type: ignore[attr-defined]
        return points.points

    return Side(step, flush, spans, logs, series)


SETUPS: dict[str, Callable[[], Side]] = {
    "kaizen": setup_kaizen,
    "logfire": setup_logfire,
    "openlit": setup_openlit,
    "traceloop": setup_traceloop,
}
