"""A compact console span exporter: one line per span instead of the SDK's multi-line JSON dump.

The SDK's ``ConsoleSpanExporter`` prints ~30 lines per span, which buries an agent's own output.
One line (JSON or text, following ``console_format``) keeps the trace readable while developing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import IO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from kaizen_otel._internal.console_stream import write_lines


def _iso(ns: int | None) -> str:
    moment = datetime.fromtimestamp((ns or 0) / 1e9, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CompactConsoleSpanExporter(SpanExporter):
    """Writes one line per span to a stream (``sys.stderr`` looked up at export time)."""

    def __init__(self, stream: IO[str] | None = None, fmt: str = "json") -> None:
        self._stream = stream
        self._fmt = fmt

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        stream = self._stream or sys.stderr
        try:
            write_lines(stream, "".join(self._line(span) + "\n" for span in spans))
        except (OSError, ValueError):
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def _line(self, span: ReadableSpan) -> str:
        ctx = span.get_span_context()
        trace_id = format(ctx.trace_id, "032x") if ctx else ""
        span_id = format(ctx.span_id, "016x") if ctx else ""
        parent = format(span.parent.span_id, "016x") if span.parent else None
        duration_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
        status = span.status.status_code.name if span.status else StatusCode.UNSET.name
        if self._fmt == "text":
            return (
                f"{_iso(span.start_time)} SPAN {span.name} {duration_ms:.2f}ms {status} "
                f"trace_id={trace_id} span_id={span_id}"
            )
        return json.dumps(
            {
                "timestamp": _iso(span.start_time),
                "span": span.name,
                "duration_ms": round(duration_ms, 3),
                "status": status,
                "trace_id": trace_id,
                "span_id": span_id,
                "parent_span_id": parent,
                "attributes": dict(span.attributes or {}),
            },
            default=str,
            separators=(",", ":"),
        )

    def shutdown(self) -> None:
        """Nothing to release: the stream belongs to the application."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
