"""The console log exporter: one line per log record, JSON (for ELK/Loki) or readable text.

The JSON shape is the one users of the source documents already parse::

    {"timestamp": "2025-10-24T12:00:00.000Z", "level": "INFO", "message": "Processing question",
     "context": {"agent_id": "qa-agent", ...}, "trace_id": "4bf9...", "span_id": "00f0...",
     "logger": "qa-agent"}

``context`` holds the record's attributes (bound context and call fields); ``trace_id`` and
``span_id`` are null outside a span. The text format keeps the trace id on the line so a reader
can still jump to the trace. Nothing here raises into the pipeline: a value JSON cannot encode is
rendered as text, and a closed stream makes ``export`` return FAILURE.
"""

from __future__ import annotations

import base64
import json
import math
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import IO, Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from kaizen_otel._internal.console_stream import flush as flush_stream
from kaizen_otel._internal.console_stream import write_lines
from kaizen_otel.exceptions import KaizenConfigError

__all__ = ["ConsoleLogExporter", "format_json", "format_text", "level_name"]

_FORMATS = ("json", "text")

# OTel severity numbers (1-24) grouped by four, mapped to the level names of Python's logging,
# which are the names the source documents' JSON shows.
_LEVELS = ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def level_name(severity_number: int | None, severity_text: str | None = None) -> str:
    """The Python-style level name for an OTel severity (``WARN`` shows as ``WARNING``)."""
    if severity_number:
        return _LEVELS[min(max((severity_number - 1) // 4, 0), 5)]
    return (severity_text or "UNSPECIFIED").upper()


def _iso(ns: int | None) -> str:
    moment = datetime.fromtimestamp((ns or 0) / 1e9, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ids(record: ReadableLogRecord) -> tuple[str | None, str | None]:
    log = record.log_record
    trace_id = format(log.trace_id, "032x") if log.trace_id else None
    span_id = format(log.span_id, "016x") if log.span_id else None
    return trace_id, span_id


def _plain(value: Any, depth: int = 0) -> Any:
    """A JSON-encodable copy of ``value``: bytes as base64, NaN/inf as text, others as str."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if depth < 8 and isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if depth < 8 and isinstance(value, Sequence):
        return [_plain(v, depth + 1) for v in value]
    return _safe_str(value)


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _dumps(payload: dict[str, Any]) -> str:
    try:
        return json.dumps(payload, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(_plain(payload), ensure_ascii=False)


def format_json(record: ReadableLogRecord) -> str:
    """One JSON object (no newline) for ``record``, in the source documents' shape."""
    log = record.log_record
    trace_id, span_id = _ids(record)
    body = log.body
    payload: dict[str, Any] = {
        "timestamp": _iso(log.timestamp or log.observed_timestamp),
        "level": level_name(log.severity_number.value if log.severity_number else None, log.severity_text),
        "message": body if isinstance(body, str) else _plain(body),
        "context": dict(log.attributes) if log.attributes else {},
        "trace_id": trace_id,
        "span_id": span_id,
        "logger": record.instrumentation_scope.name if record.instrumentation_scope else None,
    }
    if log.event_name:
        payload["event_name"] = log.event_name
    return _dumps(payload)


def format_text(record: ReadableLogRecord) -> str:
    """A readable line: time, level, logger, message, fields, then the trace and span ids.

    An exception's stack trace (``exception.stacktrace``) follows on its own lines.
    """
    log = record.log_record
    trace_id, span_id = _ids(record)
    attributes = dict(log.attributes) if log.attributes else {}
    stack = attributes.pop("exception.stacktrace", None)
    fields = " ".join(f"{key}={_text_value(value)}" for key, value in attributes.items())
    scope = record.instrumentation_scope.name if record.instrumentation_scope else "-"
    level = level_name(log.severity_number.value if log.severity_number else None, log.severity_text)
    message = log.body if isinstance(log.body, str) else _text_value(log.body)
    parts = [_iso(log.timestamp or log.observed_timestamp), f"{level:<8}", f"{scope}:", message]
    if fields:
        parts.append(fields)
    if trace_id:
        parts.append(f"trace_id={trace_id} span_id={span_id}")
    line = " ".join(parts)
    if isinstance(stack, str) and stack:
        line += "\n" + stack.rstrip("\n")
    return line


def _text_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if (" " in value or not value) else value
    try:
        return json.dumps(_plain(value), ensure_ascii=False)
    except (TypeError, ValueError):
        return _safe_str(value)


class ConsoleLogExporter(LogRecordExporter):
    """Writes one line per record to a stream.

    Args:
        stream: where to write; None means ``sys.stderr`` *looked up at each export*, so an
            application (or a test) that redirects stderr later still gets the lines.
        fmt: ``"json"`` (default) or ``"text"``.

    Safe to call from several threads at once (the SDK's simple processor does): each batch is
    written under the lock every console exporter shares, so lines never interleave, not even
    with the span exporter's lines on the same stream.
    """

    def __init__(self, stream: IO[str] | None = None, fmt: str = "json") -> None:
        if fmt not in _FORMATS:
            raise KaizenConfigError("console_format", fmt, "one of " + ", ".join(_FORMATS))
        self._stream = stream
        self._format = format_json if fmt == "json" else format_text
        self._shutdown = False

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        if self._shutdown:
            return LogRecordExportResult.FAILURE
        try:
            text = "".join(self._line(record) + "\n" for record in batch)
            stream = self._stream if self._stream is not None else sys.stderr
            write_lines(stream, text)
        except Exception:  # a closed or broken stream must not break the pipeline
            return LogRecordExportResult.FAILURE
        return LogRecordExportResult.SUCCESS

    def _line(self, record: ReadableLogRecord) -> str:
        try:
            return self._format(record)
        except Exception:  # one odd record must not cost the rest of the batch
            return json.dumps(
                {
                    "level": "ERROR",
                    "message": "kaizen_otel: a log record could not be formatted",
                    "body": _safe_str(getattr(record.log_record, "body", None)),
                }
            )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        stream = self._stream if self._stream is not None else sys.stderr
        try:
            flush_stream(stream)
        except Exception:
            return False
        return True

    def shutdown(self) -> None:
        self._shutdown = True
