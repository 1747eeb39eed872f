"""A rotel processor that records every span, log record and metric data point as one JSON line.

``rotel-agent`` loads this file with ``--otlp-with-{trace,logs,metrics}-processor`` and calls
``process_spans`` / ``process_logs`` / ``process_metrics`` with each ResourceSpans / ResourceLogs /
ResourceMetrics it receives. It runs inside the agent's embedded interpreter (Debian's system
Python 3.11, not the test virtualenv), so it uses the standard library only and imports nothing
from this repository.

The file to append to is named by the ``KAIZEN_TESTBED_ROTEL_OUT`` environment variable of the
agent process. Each call writes its lines with one ``write()`` on an ``O_APPEND`` descriptor, so
lines from the three signals never interleave and a reader sees whole lines.

An exception escaping a processor makes this rotel version panic and exit, which would turn one
odd record into a dead receiver for the rest of the session; every entry point therefore catches
everything and records the failure as a ``{"signal": "error"}`` line the tests can see.
"""

import json
import os
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

OUT_ENV = "KAIZEN_TESTBED_ROTEL_OUT"
_OUT_PATH = os.environ.get(OUT_ENV, "")
_PRIMITIVES = (str, bool, int, float)


def _value(any_value: Any) -> Any:
    """Plain Python value of an OTLP AnyValue (arrays → lists, kv-lists → dicts, bytes → hex)."""
    if any_value is None:
        return None
    inner = any_value.value
    if inner is None or isinstance(inner, _PRIMITIVES):
        return inner
    if isinstance(inner, list):  # bytes_value arrives as a list of ints
        return bytes(inner).hex()
    kind = type(inner).__name__
    if kind == "ArrayValue":
        return [_value(item) for item in inner]
    if kind == "KeyValueList":
        return {pair.key: _value(pair.value) for pair in inner}
    return repr(inner)


def _attributes(pairs: Iterable[Any]) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _hex(raw: Any) -> str:
    return bytes(raw).hex() if raw else ""


def _scope(scope: Any) -> dict[str, Any]:
    if scope is None:
        return {"name": "", "version": "", "attributes": {}}
    return {"name": scope.name, "version": scope.version, "attributes": _attributes(scope.attributes)}


def _resource_fields(resource: Any) -> dict[str, Any]:
    attributes = _attributes(resource.attributes) if resource is not None else {}
    return {"resource": attributes, "service_name": attributes.get("service.name")}


def _enum_name(value: Any) -> str:
    return str(value).rsplit(".", 1)[-1].lower()


def _span(span: Any) -> dict[str, Any]:
    status = span.status
    return {
        "name": span.name,
        "kind": span.kind,
        "trace_id": _hex(span.trace_id),
        "span_id": _hex(span.span_id),
        "parent_span_id": _hex(span.parent_span_id),
        "start_time_unix_nano": span.start_time_unix_nano,
        "end_time_unix_nano": span.end_time_unix_nano,
        "attributes": _attributes(span.attributes),
        "events": [
            {"name": event.name, "attributes": _attributes(event.attributes)} for event in span.events
        ],
        "links": [
            {"span_id": _hex(link.span_id), "attributes": _attributes(link.attributes)} for link in span.links
        ],
        "status": {"code": status.code, "message": status.message} if status is not None else None,
    }


def _log(record: Any) -> dict[str, Any]:
    return {
        "body": _value(record.body),
        "severity_number": record.severity_number,
        "severity_text": record.severity_text,
        "event_name": record.event_name,
        "attributes": _attributes(record.attributes),
        "trace_id": _hex(record.trace_id),
        "span_id": _hex(record.span_id),
        "time_unix_nano": record.time_unix_nano,
        "observed_time_unix_nano": record.observed_time_unix_nano,
    }


def _number_point(point: Any) -> dict[str, Any]:
    value = point.value
    return {"value": value[0] if value is not None else None}


def _histogram_point(point: Any) -> dict[str, Any]:
    return {
        "value": None,
        "count": point.count,
        "sum": point.sum,
        "min": point.min,
        "max": point.max,
        "bucket_counts": list(point.bucket_counts),
        "explicit_bounds": list(point.explicit_bounds),
    }


def _exponential_point(point: Any) -> dict[str, Any]:
    return {"value": None, "count": point.count, "sum": point.sum, "min": point.min, "max": point.max}


def _summary_point(point: Any) -> dict[str, Any]:
    return {"value": None, "count": point.count, "sum": point.sum}


def _unknown_point(point: Any) -> dict[str, Any]:
    return {"value": None}


_POINT_FIELDS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "sum": _number_point,
    "gauge": _number_point,
    "histogram": _histogram_point,
    "exponentialhistogram": _exponential_point,
    "summary": _summary_point,
}


def _metric_points(metric: Any) -> Iterator[dict[str, Any]]:
    data = metric.data
    kind = type(data).__name__.rsplit("_", 1)[-1].lower()
    body = data[0]
    base: dict[str, Any] = {
        "name": metric.name,
        "unit": metric.unit,
        "description": metric.description,
        "type": kind,
    }
    if hasattr(body, "is_monotonic"):
        base["monotonic"] = body.is_monotonic
    if hasattr(body, "aggregation_temporality"):
        base["temporality"] = _enum_name(body.aggregation_temporality)
    fields = _POINT_FIELDS.get(kind, _unknown_point)
    for point in body.data_points:
        yield {
            **base,
            "attributes": _attributes(point.attributes),
            "time_unix_nano": point.time_unix_nano,
            **fields(point),
        }


def _write(records: list[dict[str, Any]]) -> None:
    if not _OUT_PATH or not records:
        return
    payload = "".join(json.dumps(record, default=repr) + "\n" for record in records).encode()
    descriptor = os.open(_OUT_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, payload)
    finally:
        os.close(descriptor)


def _record_failure(where: str) -> None:
    try:
        _write([{"signal": "error", "where": where, "error": traceback.format_exc()}])
    except Exception:  # nothing may escape into the agent
        pass


def process_spans(resource_spans: Any) -> None:
    try:
        common = _resource_fields(resource_spans.resource)
        records: list[dict[str, Any]] = []
        for scope_spans in resource_spans.scope_spans:
            scope = _scope(scope_spans.scope)
            for span in scope_spans.spans:
                records.append({"signal": "span", **common, "scope": scope, **_span(span)})
        _write(records)
    except Exception:  # nothing may escape into the agent
        _record_failure("process_spans")


def process_logs(resource_logs: Any) -> None:
    try:
        common = _resource_fields(resource_logs.resource)
        records: list[dict[str, Any]] = []
        for scope_logs in resource_logs.scope_logs:
            scope = _scope(scope_logs.scope)
            for record in scope_logs.log_records:
                records.append({"signal": "log", **common, "scope": scope, **_log(record)})
        _write(records)
    except Exception:  # nothing may escape into the agent
        _record_failure("process_logs")


def process_metrics(resource_metrics: Any) -> None:
    try:
        common = _resource_fields(resource_metrics.resource)
        records: list[dict[str, Any]] = []
        for scope_metrics in resource_metrics.scope_metrics:
            scope = _scope(scope_metrics.scope)
            for metric in scope_metrics.metrics:
                for point in _metric_points(metric):
                    records.append({"signal": "metric", **common, "scope": scope, **point})
        _write(records)
    except Exception:  # nothing may escape into the agent
        _record_failure("process_metrics")
