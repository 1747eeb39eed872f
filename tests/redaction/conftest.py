"""Shared pipelines for the redaction tests: real SDK providers, in-memory exporters, a metric reader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kaizen_otel.redaction import RedactingLogRecordProcessor, RedactingSpanProcessor, Redactor


def secret_windows(secret: str, size: int = 6) -> list[str]:
    """Every run of ``size`` characters of the secret: none may survive in the output."""
    compact = secret.replace(" ", "").replace("-", "")
    return [compact[i : i + size] for i in range(len(compact) - size + 1)]


def assert_gone(secret: str, output: Any) -> None:
    text = json.dumps(output, default=str)
    squashed = text.replace(" ", "").replace("-", "")
    for window in secret_windows(secret):
        assert window not in squashed, f"{window!r} of {secret!r} left in {text}"


@dataclass
class Pipelines:
    redactor: Redactor
    spans: InMemorySpanExporter
    logs: InMemoryLogRecordExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    logger_provider: LoggerProvider

    def span_attributes(self) -> dict[str, Any]:
        (span,) = self.spans.get_finished_spans()
        return dict(span.attributes or {})

    def only_log(self) -> ReadableLogRecord:
        (record,) = self.logs.get_finished_logs()
        return record

    def only_span(self) -> ReadableSpan:
        (span,) = self.spans.get_finished_spans()
        return span

    def redactions(self, name: str = "kaizen.redactions") -> dict[str, int]:
        counts: dict[str, int] = {}
        data = self.reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            counts[str(point.attributes["signal"])] = int(point.value)
        return counts


def build(redactor_args: dict[str, Any] | None = None, *, redaction_first: bool = True) -> Pipelines:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    redactor = Redactor(meter_provider=meter_provider, **(redactor_args or {}))
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    span_processors = [RedactingSpanProcessor(redactor), SimpleSpanProcessor(spans)]
    for processor in span_processors if redaction_first else reversed(span_processors):
        tracer_provider.add_span_processor(processor)
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    logger_provider.add_log_record_processor(RedactingLogRecordProcessor(redactor))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    return Pipelines(redactor, spans, logs, reader, tracer_provider, logger_provider)


@pytest.fixture
def pipes() -> Iterator[Pipelines]:
    built = build()
    yield built
    built.tracer_provider.shutdown()
    built.logger_provider.shutdown()


def emit_log(pipes: Pipelines, body: Any, attributes: dict[str, Any]) -> ReadableLogRecord:
    pipes.logger_provider.get_logger("tests.redaction").emit(body=body, attributes=attributes, timestamp=1)
    return pipes.only_log()


class ArrayLike:
    """Behaves like a numpy array: comparisons return arrays, and truth and text raise."""

    def __eq__(self, other: object) -> Any:
        return self

    def __ne__(self, other: object) -> Any:
        return self

    def __bool__(self) -> bool:
        raise ValueError("The truth value of an array with more than one element is ambiguous")

    def __str__(self) -> str:
        raise RuntimeError("cannot render")

    __repr__ = __str__
    __hash__ = None  # type: ignore[assignment]


from tests.testbed.fixtures import rotel  # noqa: E402  (the real OTLP receiver, once per session)

__all__ = ["ArrayLike", "Pipelines", "assert_gone", "build", "emit_log", "rotel"]
