"""Every text a span or log record exports is scrubbed: names, status descriptions, events, links, bodies."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor
from opentelemetry.trace import Link, StatusCode

from kaizen_otel._internal.log_bridge import KaizenLoggingHandler
from kaizen_otel.redaction import MARKER
from tests.redaction.conftest import Pipelines, build, emit_log

DSN = "postgres://app:Tr0ub4dor3@db.internal:5432/prod"
KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"


def test_a_plain_sdk_span_left_by_an_exception_has_its_status_description_scrubbed(pipes: Pipelines) -> None:
    """The SDK writes "ValueError: <message>" into the status of every span an exception leaves."""
    tracer = pipes.tracer_provider.get_tracer("t")
    with pytest.raises(ValueError), tracer.start_as_current_span("connect"):
        raise ValueError(f"connect failed: {DSN}")
    span = pipes.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == (
        "ValueError: connect failed: postgres://app:[REDACTED:url_password]@db.internal:5432/prod"
    )
    (event,) = span.events
    assert "Tr0ub4dor3" not in str(dict(event.attributes or {}))
    assert pipes.redactions() == {"span": 3}  # description, exception.message, exception.stacktrace


def test_a_status_description_set_by_hand_is_scrubbed(pipes: Pipelines) -> None:
    with pipes.tracer_provider.get_tracer("t").start_as_current_span("call") as span:
        span.set_status(StatusCode.ERROR, f"upstream rejected {KEY}")
    assert pipes.only_span().status.description == "upstream rejected [REDACTED:api_key]"


def test_span_names_event_names_and_link_attributes_are_scrubbed(pipes: Pipelines) -> None:
    tracer = pipes.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("linked") as other:
        pass
    link = Link(other.get_span_context(), {"note": f"from {DSN}", "api_key": "k-123"})
    with tracer.start_as_current_span(f"GET {DSN}", links=[link]) as span:
        span.add_event(f"retrying with {KEY}", {"ok": True})
    span = pipes.spans.get_finished_spans()[-1]
    assert span.name == "GET postgres://app:[REDACTED:url_password]@db.internal:5432/prod"
    assert [event.name for event in span.events] == ["retrying with [REDACTED:api_key]"]
    assert dict(span.links[0].attributes or {}) == {
        "note": "from postgres://app:[REDACTED:url_password]@db.internal:5432/prod",
        "api_key": MARKER,
    }


def test_clean_names_and_statuses_keep_their_objects(pipes: Pipelines) -> None:
    tracer = pipes.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("chat gpt-4o") as live:
        live.set_status(StatusCode.ERROR, "rate limited")
        status = live.status  # type: ignore[attr-defined]
    span = pipes.only_span()
    assert span.name == "chat gpt-4o"
    assert span.status is status


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (f"dsn={DSN}", "dsn=postgres://app:[REDACTED:url_password]@db.internal:5432/prod"),
        (
            {"request": {"headers": {"Authorization": "Bearer 9f8e7d6c5b4a39281706f5e4"}}},
            {"request": {"headers": {"Authorization": MARKER}}},
        ),
        ([KEY, 3, None], ["[REDACTED:api_key]", 3, None]),
        ((KEY,), ("[REDACTED:api_key]",)),
        (f"raw {KEY}".encode(), b"raw [REDACTED:api_key]"),
        ({"seen": {KEY}}, {"seen": ["[REDACTED:api_key]"]}),
    ],
    ids=["text", "nested-mapping", "list", "tuple", "bytes", "set"],
)
def test_log_bodies_of_any_shape_are_scrubbed(pipes: Pipelines, body: Any, expected: Any) -> None:
    record = emit_log(pipes, body, {})
    assert record.log_record.body == expected


def test_an_object_body_is_scrubbed_as_the_text_an_exporter_would_print(pipes: Pipelines) -> None:
    class Settings:
        def __str__(self) -> str:
            return f"Settings(dsn={DSN!r})"

    record = emit_log(pipes, Settings(), {})
    assert record.log_record.body == (
        "Settings(dsn='postgres://app:[REDACTED:url_password]@db.internal:5432/prod')"
    )


def test_a_log_event_name_is_scrubbed(pipes: Pipelines) -> None:
    pipes.logger_provider.get_logger("t").emit(body="x", event_name=f"login {KEY}", timestamp=1)
    assert pipes.only_log().log_record.event_name == "login [REDACTED:api_key]"


def test_a_stdlib_exception_logged_through_the_bridge_is_scrubbed(pipes: Pipelines) -> None:
    logger = logging.getLogger("tests.redaction.bridge")
    logger.handlers[:] = [KaizenLoggingHandler(pipes.logger_provider, logging.INFO)]
    logger.propagate = False
    try:
        raise ConnectionError(f"cannot reach {DSN}")
    except ConnectionError:
        logger.exception("query failed for %s", KEY)
    record = pipes.only_log().log_record
    text = f"{record.body} {dict(record.attributes or {})}"
    assert "Tr0ub4dor3" not in text
    assert KEY not in text
    assert "[REDACTED:url_password]" in text and "[REDACTED:api_key]" in text


def test_processors_reading_a_span_at_start_see_its_name_scrubbed() -> None:
    """The live view lists a running agent by the name its span started with."""
    seen: list[str] = []

    class AtStart(SpanProcessor):
        def on_start(self, span: Span, parent_context: Context | None = None) -> None:
            seen.append(span.name)

    pipes = build()
    pipes.tracer_provider.add_span_processor(AtStart())
    with pipes.tracer_provider.get_tracer("t").start_as_current_span(f"invoke_agent {KEY}"):
        pass
    assert seen == ["invoke_agent [REDACTED:api_key]"]
