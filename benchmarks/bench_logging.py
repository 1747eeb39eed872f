"""µs per log call and the cost of redaction, each against its baseline measured in the same run.

Log calls (all into the same LoggerProvider: BatchLogRecordProcessor with an exporter that drops):
- ``structured``: ``StructuredLogger.info`` with two context fields and two call fields;
- ``stdlib+otel_handler``: stdlib ``logging`` through opentelemetry-instrumentation-logging's
  handler, the same four fields passed as ``extra``;
- ``stdlib+bridge``: the same stdlib call through kaizen_otel's bridge handler;
- ``otel_api``: the OTel logs API called by hand with the same attributes (the floor);
- ``filtered_debug``: ``StructuredLogger.debug`` at level INFO (aim: ≤ 1 µs), and the stdlib
  equivalent for scale.

Redaction: a GenAI-shaped span (8 attributes) with and without ``RedactingSpanProcessor``, and a
log record with and without ``RedactingLogRecordProcessor`` (aim: ≤ 20% of the span it rides on);
for scale, the same span carrying a 2 KB prompt (message content capture on), which is scanned in
full on every span.
Variants are interleaved over several rounds; times are the median round, ratios the median of
the per-round ratios (each leg against its baseline measured moments apart, so load from other
processes on the machine cancels out).
"""

from __future__ import annotations

import gc
import logging
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from opentelemetry._logs import SeverityNumber
from opentelemetry._logs import _internal as logs_internal
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.util.types import AnyValue

try:
    from benchmarks._util import table
except ImportError:  # run as a script
    from _util import table  # type: ignore[no-redef]

from benchmarks._util import DropLogs, DropSpans
from kaizen_otel._internal.log_bridge import KaizenLoggingHandler
from kaizen_otel.logging import StructuredLogger, reset_logging, set_level
from kaizen_otel.redaction import RedactingLogRecordProcessor, RedactingSpanProcessor, Redactor

CALLS = 5000
ROUNDS = 9

SPAN_ATTRIBUTES: dict[str, AnyValue] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": 812,
    "gen_ai.usage.output_tokens": 164,
    "server.address": "api.openai.com",
    "kaizen.agent.name": "qa-agent",
}
PROMPT = (
    "You are a support agent for ACME Corp. Answer the customer's question using the order history "
    "below. Order 10023 shipped on 2024-10-21 with 3 items; order 10087 is pending since 2024-10-24. "
    "The customer asked: where is my second order and can I change the delivery address to 42 Main "
    "Street, Springfield? Keep the answer under 120 words and cite the order numbers. "
) * 6  # ~2 KB, as with message content capture turned on
LOG_ATTRIBUTES: dict[str, AnyValue] = {
    "agent_id": "qa-agent",
    "session_id": "session-123",
    "question": "What is AI?",
    "step": 3,
}


def _logger_provider(redactor: Redactor | None = None) -> LoggerProvider:
    provider = LoggerProvider(shutdown_on_exit=False)
    if redactor is not None:
        provider.add_log_record_processor(RedactingLogRecordProcessor(redactor))
    provider.add_log_record_processor(BatchLogRecordProcessor(DropLogs(), max_queue_size=4096))
    return provider


def _tracer_provider(redactor: Redactor | None = None) -> TracerProvider:
    provider = TracerProvider(shutdown_on_exit=False)
    if redactor is not None:
        provider.add_span_processor(RedactingSpanProcessor(redactor))
    provider.add_span_processor(BatchSpanProcessor(DropSpans(), max_queue_size=4096))
    return provider


@contextmanager
def _global_logger_provider(provider: LoggerProvider) -> Iterator[None]:
    """Point the API global at ``provider`` for this benchmark only, then put back what was there."""
    saved = logs_internal._LOGGER_PROVIDER
    logs_internal._LOGGER_PROVIDER = provider
    try:
        yield
    finally:
        logs_internal._LOGGER_PROVIDER = saved


def _stdlib_logger(name: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def _time(fn: Callable[[int], None], calls: int) -> float:
    """µs per call of ``fn``'s inner loop."""
    gc.collect()
    started = time.perf_counter_ns()
    fn(calls)
    return (time.perf_counter_ns() - started) / calls / 1000


def _legs(
    provider: LoggerProvider,
    spans: TracerProvider,
    spans_redacted: TracerProvider,
    logs_redacted: LoggerProvider,
) -> dict[str, Callable[[int], None]]:
    structured = StructuredLogger("bench.structured")
    structured.add_context(agent_id="qa-agent", session_id="session-123")
    via_otel_handler = _stdlib_logger("bench.otel_handler", LoggingHandler(logger_provider=provider))
    via_bridge = _stdlib_logger("bench.bridge", KaizenLoggingHandler(provider, logging.INFO))
    otel = provider.get_logger("bench.api")
    otel_redacted = logs_redacted.get_logger("bench.api")
    tracer = spans.get_tracer("bench")
    tracer_redacted = spans_redacted.get_tracer("bench")
    extra = dict(LOG_ATTRIBUTES)

    def structured_info(n: int) -> None:
        for _ in range(n):
            structured.info("Processing question", question="What is AI?", step=3)

    def stdlib_otel_handler(n: int) -> None:
        for _ in range(n):
            via_otel_handler.info("Processing question", extra=extra)

    def stdlib_bridge(n: int) -> None:
        for _ in range(n):
            via_bridge.info("Processing question", extra=extra)

    def otel_api(n: int) -> None:
        for _ in range(n):
            otel.emit(
                timestamp=time.time_ns(),
                severity_number=SeverityNumber.INFO,
                severity_text="INFO",
                body="Processing question",
                attributes=LOG_ATTRIBUTES,
            )

    def filtered_debug(n: int) -> None:
        for _ in range(n):
            structured.debug("Cache lookup", key="k", hit=True)

    def stdlib_filtered_debug(n: int) -> None:
        for _ in range(n):
            via_bridge.debug("Cache lookup %s", "k")

    def span(n: int) -> None:
        for _ in range(n):
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes=SPAN_ATTRIBUTES):
                pass

    def span_redacted(n: int) -> None:
        for _ in range(n):
            with tracer_redacted.start_as_current_span("chat gpt-4o-mini", attributes=SPAN_ATTRIBUTES):
                pass

    prompt_attributes: dict[str, AnyValue] = {**SPAN_ATTRIBUTES, "gen_ai.input.messages": PROMPT}

    def span_prompt(n: int) -> None:
        for _ in range(n):
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes=prompt_attributes):
                pass

    def span_prompt_redacted(n: int) -> None:
        for _ in range(n):
            with tracer_redacted.start_as_current_span("chat gpt-4o-mini", attributes=prompt_attributes):
                pass

    def record_redacted(n: int) -> None:
        for _ in range(n):
            otel_redacted.emit(
                timestamp=time.time_ns(),
                severity_number=SeverityNumber.INFO,
                severity_text="INFO",
                body="Processing question",
                attributes=LOG_ATTRIBUTES,
            )

    return {
        "structured": structured_info,
        "stdlib+otel_handler": stdlib_otel_handler,
        "stdlib+bridge": stdlib_bridge,
        "otel_api": otel_api,
        "filtered_debug": filtered_debug,
        "stdlib_filtered_debug": stdlib_filtered_debug,
        "span": span,
        "span+redaction": span_redacted,
        "record+redaction": record_redacted,
        "span_2kb_prompt": span_prompt,
        "span_2kb_prompt+redaction": span_prompt_redacted,
    }


def main(calls: int = CALLS, rounds: int = ROUNDS) -> dict[str, float]:
    meter_provider = MeterProvider(shutdown_on_exit=False)
    redactor = Redactor(meter_provider=meter_provider)
    provider = _logger_provider()
    logs_redacted = _logger_provider(redactor)
    spans, spans_redacted = _tracer_provider(), _tracer_provider(redactor)
    set_level("INFO")
    try:
        with _global_logger_provider(provider):
            legs = _legs(provider, spans, spans_redacted, logs_redacted)
            for fn in legs.values():  # warm up caches and code paths
                _time(fn, calls // 5)
            samples: dict[str, list[float]] = {name: [] for name in legs}
            for _ in range(rounds):
                for name, fn in legs.items():
                    samples[name].append(_time(fn, calls))
    finally:
        reset_logging()
        for closable in (provider, logs_redacted, spans, spans_redacted, meter_provider):
            closable.shutdown()
    us = {name: statistics.median(values) for name, values in samples.items()}

    def paired(leg: str, baseline: str) -> float:
        """Median over rounds of leg/baseline measured in the same round: robust to load drift."""
        return statistics.median(a / b for a, b in zip(samples[leg], samples[baseline], strict=True))

    results = {
        **{f"{name}_us": value for name, value in us.items()},
        "structured_vs_stdlib_otel_handler": paired("structured", "stdlib+otel_handler"),
        "bridge_vs_stdlib_otel_handler": paired("stdlib+bridge", "stdlib+otel_handler"),
        "structured_vs_otel_api": paired("structured", "otel_api"),
        "span_redaction_overhead": paired("span+redaction", "span") - 1,
        "record_redaction_overhead": paired("record+redaction", "otel_api") - 1,
        "span_2kb_prompt_redaction_overhead": paired("span_2kb_prompt+redaction", "span_2kb_prompt") - 1,
    }
    rows = [
        (
            "StructuredLogger.info",
            us["structured"],
            f"{results['structured_vs_stdlib_otel_handler']:.2f}x",
            "<= 1.00x stdlib+otel_handler",
        ),
        ("stdlib -> instrumentation-logging handler", us["stdlib+otel_handler"], "1.00x", "baseline"),
        (
            "stdlib -> kaizen bridge",
            us["stdlib+bridge"],
            f"{results['bridge_vs_stdlib_otel_handler']:.2f}x",
            "",
        ),
        (
            "OTel logs API by hand",
            us["otel_api"],
            f"{paired('otel_api', 'stdlib+otel_handler'):.2f}x",
            "floor",
        ),
        ("StructuredLogger.debug, filtered out", us["filtered_debug"], "", "<= 1 us"),
        ("stdlib debug, filtered out", us["stdlib_filtered_debug"], "", "for scale"),
        ("span, 8 GenAI attributes", us["span"], "1.00x", "baseline"),
        (
            "span + RedactingSpanProcessor",
            us["span+redaction"],
            f"+{results['span_redaction_overhead']:.1%}",
            "<= +20%",
        ),
        (
            "log record + RedactingLogRecordProcessor",
            us["record+redaction"],
            f"+{results['record_redaction_overhead']:.1%}",
            "vs OTel logs API by hand",
        ),
        ("span with a 2 KB prompt attribute", us["span_2kb_prompt"], "1.00x", "content capture on"),
        (
            "  + RedactingSpanProcessor",
            us["span_2kb_prompt+redaction"],
            f"+{results['span_2kb_prompt_redaction_overhead']:.1%}",
            "for scale",
        ),
    ]
    print(table(["operation", "us/call", "ratio", "aim"], rows))
    return results


if __name__ == "__main__":
    main()
