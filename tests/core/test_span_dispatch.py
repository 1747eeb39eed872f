"""configure()'s tracer provider calls every processor's hooks as the SDK would, minus empty ones."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import kaizen_otel
from kaizen_otel._internal.span_dispatch import HookDispatchingSpanProcessor


class _Recorder(SpanProcessor):
    """Writes down every hook call, with what the span looked like then."""

    def __init__(self, calls: list[tuple[str, str, Any]]) -> None:
        self.calls = calls

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        self.calls.append(("on_start", span.name, parent_context))

    def _on_ending(self, span: Span) -> None:
        self.calls.append(("_on_ending", span.name, span.is_recording()))

    def on_end(self, span: ReadableSpan) -> None:
        self.calls.append(("on_end", span.name, dict(span.attributes or {})))


class _KeywordOnly(SpanProcessor):
    """A processor whose on_start takes the parent context by keyword only."""

    def __init__(self) -> None:
        self.parents: list[Any] = []

    def on_start(self, span: Span, *, parent_context: Any = None) -> None:
        self.parents.append(parent_context)


class _Dropping(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _StartingBatch(BatchSpanProcessor):
    """A batch processor that does something at start: its on_start is its own, so it is called."""

    def __init__(self) -> None:
        super().__init__(_Dropping())
        self.started: list[str] = []

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        self.started.append(span.name)


def test_a_processor_added_after_configure_sees_every_hook_in_order(clean_env: pytest.MonkeyPatch) -> None:
    obs = kaizen_otel.configure(service_name="dispatch", prometheus_port=0, logs_exporter="none")
    calls: list[tuple[str, str, Any]] = []
    obs.tracer_provider.add_span_processor(_Recorder(calls))
    keyword_only = _KeywordOnly()
    obs.tracer_provider.add_span_processor(keyword_only)
    starting = _StartingBatch()
    obs.tracer_provider.add_span_processor(starting)
    with obs.tracer_provider.get_tracer("t").start_as_current_span(
        "work", attributes={"password": "hunter2"}
    ):
        pass
    assert [(hook, name) for hook, name, _ in calls] == [
        ("on_start", "work"),
        ("_on_ending", "work"),
        ("on_end", "work"),
    ]
    assert calls[1][2] is False  # ended, and still writable by _on_ending processors
    assert calls[2][2]["password"].startswith("[REDACTED")  # redaction ran before it
    assert len(keyword_only.parents) == 1
    assert starting.started == ["work"]
    starting.shutdown()


def test_empty_hooks_of_the_sdk_processors_are_left_out_and_others_are_kept() -> None:
    dispatch = HookDispatchingSpanProcessor()
    batch = BatchSpanProcessor(_Dropping())
    recorder = _Recorder([])
    dispatch.add_span_processor(batch)
    dispatch.add_span_processor(recorder)
    assert dispatch._starts == (recorder.on_start,)
    assert dispatch._endings == (recorder._on_ending,)
    assert dispatch._ends == (batch.on_end, recorder.on_end)
    assert dispatch._span_processors == (batch, recorder)
    batch.shutdown()
