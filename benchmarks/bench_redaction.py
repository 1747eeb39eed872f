"""µs of CPU that redaction adds per span and per log record, next to what the span or record costs.

Each case times two things in the same run: the SDK producing the span or record without
redaction (BatchSpanProcessor / BatchLogRecordProcessor into an exporter that drops), and the
redaction processor's own call on that finished span or record, repeated (values seen clean
before stay cached, as in a running service). CPU time (``time.process_time``) and the minimum
over rounds, so other processes on the machine count as little as possible.

Cases:
- ``span``: a GenAI span with 8 attributes (the common case);
- ``error span``: a span an exception left: status description, an ``exception`` event with
  message and stack trace (scanned on every span: stack traces are not cached);
- ``log record``: a record with a text body and 4 attributes;
- ``2 KB prompt``: the span with a 2 KB prompt attribute (message content capture on).

The script only uses the public processors, so the same file times an older checkout too
(``cd <checkout> && python -m benchmarks redaction``).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

try:
    from benchmarks._util import DropLogs, DropSpans, table
    from benchmarks.bench_logging import LOG_ATTRIBUTES, PROMPT, SPAN_ATTRIBUTES
except ImportError:  # run as a script
    from _util import DropLogs, DropSpans, table  # type: ignore[no-redef]
    from bench_logging import LOG_ATTRIBUTES, PROMPT, SPAN_ATTRIBUTES  # type: ignore[no-redef]

from kaizen_otel.redaction import RedactingLogRecordProcessor, RedactingSpanProcessor, Redactor

CALLS = 2000
ROUNDS = 15


class _Keep(SpanProcessor):
    """Keeps the last live span that ended, to time the redaction call on it afterwards."""

    def __init__(self) -> None:
        self.span: ReadableSpan | None = None

    def on_end(self, span: ReadableSpan) -> None:
        self.span = span


class _KeepRecord(LogRecordProcessor):
    def __init__(self) -> None:
        self.record: ReadWriteLogRecord | None = None

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        self.record = log_record

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _cpu_us(fn: Callable[[int], None], calls: int, rounds: int) -> float:
    """Minimum over rounds of the CPU µs per call of ``fn``'s inner loop."""
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        started = time.process_time_ns()
        fn(calls)
        best = min(best, (time.process_time_ns() - started) / calls / 1000)
    return best


def _fail() -> None:
    raise ConnectionError(
        "connect to db.internal:5432 failed after 3 attempts (timeout 30 s): server closed the connection"
    )


def _span_cases(redactor: Redactor) -> dict[str, tuple[Callable[[int], None], Callable[[int], None]]]:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(DropSpans(), max_queue_size=4096))
    keep = _Keep()
    keeper = TracerProvider(shutdown_on_exit=False)
    keeper.add_span_processor(keep)
    processor = RedactingSpanProcessor(redactor)
    tracer, keeping = provider.get_tracer("bench"), keeper.get_tracer("bench")
    prompt_attributes = {**SPAN_ATTRIBUTES, "gen_ai.input.messages": PROMPT}

    def plain(attributes: dict[str, object], error: bool) -> Callable[[int], None]:
        def run(n: int) -> None:
            for _ in range(n):
                try:
                    with tracer.start_as_current_span("chat gpt-4o-mini", attributes=attributes):  # type: ignore[arg-type]
                        if error:
                            _fail()
                except ConnectionError:
                    pass

        return run

    def scrub(attributes: dict[str, object], error: bool) -> Callable[[int], None]:
        try:
            with keeping.start_as_current_span("chat gpt-4o-mini", attributes=attributes):  # type: ignore[arg-type]
                if error:
                    _fail()
        except ConnectionError:
            pass
        span = keep.span
        assert span is not None
        on_start = processor.on_start
        on_ending = processor._on_ending if RedactingSpanProcessor._uses_on_ending else processor.on_end

        def run(n: int) -> None:
            for _ in range(n):
                on_start(span)  # type: ignore[arg-type]
                on_ending(span)  # type: ignore[arg-type]

        return run

    return {
        "span, 8 GenAI attributes": (plain(SPAN_ATTRIBUTES, False), scrub(SPAN_ATTRIBUTES, False)),
        "error span (status, exception event)": (plain(SPAN_ATTRIBUTES, True), scrub(SPAN_ATTRIBUTES, True)),
        "span with a 2 KB prompt": (plain(prompt_attributes, False), scrub(prompt_attributes, False)),
    }


def _log_case(redactor: Redactor) -> tuple[Callable[[int], None], Callable[[int], None]]:
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(BatchLogRecordProcessor(DropLogs(), max_queue_size=4096))
    keep = _KeepRecord()
    keeper = LoggerProvider(shutdown_on_exit=False)
    keeper.add_log_record_processor(keep)
    processor = RedactingLogRecordProcessor(redactor)
    logger = provider.get_logger("bench")

    def emit(target: object) -> None:
        target.emit(  # type: ignore[attr-defined]
            timestamp=time.time_ns(),
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body="Processing question",
            attributes=LOG_ATTRIBUTES,
        )

    def plain(n: int) -> None:
        for _ in range(n):
            emit(logger)

    emit(keeper.get_logger("bench"))
    record = keep.record
    assert record is not None

    def scrub(n: int) -> None:
        for _ in range(n):
            processor.on_emit(record)

    return plain, scrub


def main(calls: int = CALLS, rounds: int = ROUNDS) -> dict[str, float]:
    meter_provider = MeterProvider(shutdown_on_exit=False)
    redactor = Redactor(meter_provider=meter_provider)
    cases = {**_span_cases(redactor), "log record, 4 attributes": _log_case(redactor)}
    results: dict[str, float] = {}
    rows = []
    for name, (plain, scrub) in cases.items():
        plain(calls // 10)  # warm up code paths and the clean-value cache
        scrub(calls // 10)
        base = _cpu_us(plain, calls, rounds)
        extra = _cpu_us(scrub, calls, rounds)
        key = name.split(",")[0].split(" (")[0].replace(" ", "_")
        results[f"{key}_us"] = base
        results[f"{key}_redaction_us"] = extra
        results[f"{key}_redaction_overhead"] = extra / base
        rows.append((name, base, extra, f"+{extra / base:.1%}"))
    meter_provider.shutdown()
    print(table(["case", "SDK us", "redaction us", "overhead"], rows))
    return results


if __name__ == "__main__":
    main()
