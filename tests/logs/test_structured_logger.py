"""StructuredLogger: context semantics, isolation, trace correlation, safe values, level filtering."""

from __future__ import annotations

import asyncio
import datetime
import math
import threading
from typing import Any

import pytest
from opentelemetry._logs import SeverityNumber, set_logger_provider
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import Tracer

from kaizen_otel._internal.settings import resolve
from kaizen_otel.exceptions import KaizenConfigError
from kaizen_otel.logging import (
    StructuredLogger,
    configure_logging,
    get_logger,
    reset_logging,
    reset_state,
    safe_attributes,
    set_level,
)
from tests.logs.conftest import Logs, reset_global_logger_provider


def attrs(logs: Logs) -> list[dict[str, Any]]:
    return [dict(r.log_record.attributes or {}) for r in logs.records()]


def test_a_call_becomes_one_record_with_message_severity_and_fields(logs: Logs) -> None:
    get_logger("qa-agent").info("Processing question", question="What is AI?", estimated_tokens=100)
    (record,) = logs.records()
    assert record.log_record.body == "Processing question"
    assert record.log_record.severity_number == SeverityNumber.INFO
    assert record.log_record.severity_text == "INFO"
    assert dict(record.log_record.attributes or {}) == {"question": "What is AI?", "estimated_tokens": 100}
    assert record.instrumentation_scope is not None
    assert record.instrumentation_scope.name == "qa-agent"
    assert record.log_record.timestamp and record.log_record.timestamp > 0


def test_each_level_maps_to_its_otel_severity(logs: Logs) -> None:
    set_level("DEBUG")
    logger = StructuredLogger("levels")
    logger.debug("d")
    logger.info("i")
    logger.warning("w")
    logger.error("e")
    logger.critical("c")
    logger.log("WARNING", "w2")
    assert [r.log_record.severity_number for r in logs.records()] == [
        SeverityNumber.DEBUG,
        SeverityNumber.INFO,
        SeverityNumber.WARN,
        SeverityNumber.ERROR,
        SeverityNumber.FATAL,
        SeverityNumber.WARN,
    ]


def test_context_is_added_to_every_later_record_and_fields_win(logs: Logs) -> None:
    logger = StructuredLogger("ctx")
    logger.add_context(agent_id="qa-agent", session_id="session-123")
    logger.add_context(user_id="u1")
    logger.info("one")
    logger.info("two", session_id="override")
    assert attrs(logs) == [
        {"agent_id": "qa-agent", "session_id": "session-123", "user_id": "u1"},
        {"agent_id": "qa-agent", "session_id": "override", "user_id": "u1"},
    ]
    assert logger.get_context() == {"agent_id": "qa-agent", "session_id": "session-123", "user_id": "u1"}


def test_clear_context_removes_the_context_but_not_bound_fields(logs: Logs) -> None:
    logger = StructuredLogger("clear")
    child = logger.bind(component="retriever")
    logger.add_context(agent_id="a")
    child.clear_context()
    child.info("after clear")
    assert attrs(logs) == [{"component": "retriever"}]
    assert logger.get_context() == {}
    assert child.get_context() == {"component": "retriever"}


def test_bind_returns_a_child_and_leaves_the_parent_unchanged(logs: Logs) -> None:
    parent = StructuredLogger("bind")
    parent.add_context(agent_id="a")
    child = parent.bind(tool="search", step=1)
    grandchild = child.bind(step=2)
    parent.info("parent")
    child.info("child")
    grandchild.info("grandchild", step=3)
    grandchild.info("grandchild default")
    assert attrs(logs) == [
        {"agent_id": "a"},
        {"agent_id": "a", "tool": "search", "step": 1},
        {"agent_id": "a", "tool": "search", "step": 3},
        {"agent_id": "a", "tool": "search", "step": 2},
    ]
    assert child.name == parent.name == "bind"


def test_get_logger_returns_one_instance_per_name_sharing_context(logs: Logs) -> None:
    first = get_logger("shared-name")
    first.add_context(run="r1")
    second = get_logger("shared-name")
    assert first is second
    second.info("x")
    assert attrs(logs) == [{"run": "r1"}]
    first.clear_context()


def test_asyncio_tasks_never_see_each_others_context(logs: Logs) -> None:
    logger = StructuredLogger("tasks")

    async def agent(name: str, gate: asyncio.Event, other_gate: asyncio.Event) -> None:
        logger.add_context(agent_id=name)
        gate.set()
        await other_gate.wait()  # both tasks have now set their context
        logger.info("step", task=name)

    async def main() -> None:
        a_ready, b_ready = asyncio.Event(), asyncio.Event()
        await asyncio.gather(agent("a", a_ready, b_ready), agent("b", b_ready, a_ready))
        logger.info("parent")

    asyncio.run(main())
    by_task = {a.get("task", "parent"): a for a in attrs(logs)}
    assert by_task["a"] == {"agent_id": "a", "task": "a"}
    assert by_task["b"] == {"agent_id": "b", "task": "b"}
    assert by_task["parent"] == {}


def test_threads_never_see_each_others_context(logs: Logs) -> None:
    logger = StructuredLogger("threads")
    logger.add_context(owner="main")
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        logger.add_context(agent_id=name)
        barrier.wait()
        logger.info("step", thread=name)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("t1", "t2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logger.info("main")
    by_thread = {a.get("thread", "main"): a for a in attrs(logs)}
    assert by_thread["t1"] == {"agent_id": "t1", "thread": "t1"}
    assert by_thread["t2"] == {"agent_id": "t2", "thread": "t2"}
    assert by_thread["main"] == {"owner": "main"}


def test_records_inside_a_span_carry_its_trace_and_span_ids(logs: Logs, tracer: Tracer) -> None:
    logger = StructuredLogger("traced")
    with tracer.start_as_current_span("invoke_agent qa") as span:
        logger.info("inside")
    logger.info("outside")
    inside, outside = (r.log_record for r in logs.records())
    ctx = span.get_span_context()
    assert (inside.trace_id, inside.span_id) == (ctx.trace_id, ctx.span_id)
    assert not outside.trace_id and not outside.span_id


def test_a_logger_created_before_configure_works_once_configured(local_logs: Logs) -> None:
    reset_global_logger_provider()
    module_level = StructuredLogger("early")
    module_level.info("before any provider")  # goes nowhere, raises nothing
    set_logger_provider(local_logs.provider)
    try:
        module_level.info("after configure")
        assert local_logs.bodies() == ["after configure"]
    finally:
        reset_global_logger_provider()


def test_calls_before_any_provider_ask_the_api_for_it_only_once(
    local_logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until a provider is set the API reads the environment on every lookup: the no-op path skips it."""
    import kaizen_otel.logging as structured

    reset_global_logger_provider()
    reset_state()
    asked: list[int] = []
    real = structured.get_logger_provider
    monkeypatch.setattr(structured, "get_logger_provider", lambda: asked.append(1) or real())
    early = StructuredLogger("early")
    for _ in range(100):
        early.info("before any provider")
    assert len(asked) == 1
    set_logger_provider(local_logs.provider)
    try:
        early.info("after configure")
        assert local_logs.bodies() == ["after configure"]
    finally:
        reset_global_logger_provider()


def test_a_filtered_out_call_does_no_formatting_work(logs: Logs) -> None:
    touched: list[str] = []

    class Costly:
        def __str__(self) -> str:
            touched.append("str")
            return "costly"

    logger = StructuredLogger("filtered")
    logger.debug("hidden", value=Costly())
    assert logs.records() == []
    assert touched == []
    assert not logger.is_enabled_for("DEBUG")
    assert logger.is_enabled_for("ERROR")


def test_configure_logging_applies_the_level_setting(logs: Logs) -> None:
    configure_logging(resolve({"log_level": "WARNING"}, environ={}).settings)
    logger = StructuredLogger("cfg")
    logger.info("dropped")
    logger.warning("kept")
    assert logs.bodies() == ["kept"]
    reset_logging()
    logger.info("default level again")
    assert logs.bodies() == ["kept", "default level again"]


def test_logging_switched_off_emits_nothing(logs: Logs) -> None:
    configure_logging(resolve({"enable_logging": False}, environ={}).settings)
    StructuredLogger("off").critical("nothing")
    assert logs.records() == []


def test_a_bad_level_is_rejected_naming_the_value_and_the_choices() -> None:
    with pytest.raises(KaizenConfigError) as excinfo:
        set_level("LOUD")
    assert str(excinfo.value) == (
        "invalid value for log_level (from argument): 'LOUD'; "
        "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    )


def test_values_that_are_not_json_serialisable_are_rendered_safely(logs: Logs) -> None:
    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("no str")

        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    when = datetime.datetime(2025, 10, 24, 12, 0, tzinfo=datetime.timezone.utc)
    StructuredLogger("values").info(
        "odd values",
        hostile=Hostile(),
        obj=object(),
        when=when,
        huge=2**80,
        nan=math.nan,
        raw=b"\x00\xff",
        tags={"b"},
        nested={"user": {"id": 7, "roles": ["admin", 3]}},
        error=ValueError("bad"),
        none=None,
    )
    (a,) = attrs(logs)
    assert a["hostile"] == "<unprintable Hostile>"
    assert a["obj"].startswith("<object object at")
    assert a["when"] == "2025-10-24T12:00:00+00:00"
    assert a["huge"] == str(2**80)
    assert math.isnan(a["nan"])
    assert a["raw"] == b"\x00\xff"
    assert a["tags"] == ("b",)
    assert a["nested.user.id"] == 7
    assert a["nested.user.roles"] == ("admin", 3)
    assert a["error"] == "ValueError: bad"
    assert a["none"] is None


def test_safe_attributes_flattens_deep_mappings_to_a_bounded_depth() -> None:
    deep: dict[str, Any] = {"v": 1}
    for _ in range(6):
        deep = {"d": deep}
    out = safe_attributes({"root": deep})
    ((key, value),) = out.items()
    assert key == "root.d.d.d.d"
    assert isinstance(value, str) and "'v': 1" in value


def test_exception_records_the_exception_being_handled(logs: Logs) -> None:
    try:
        raise KeyError("missing")
    except KeyError:
        StructuredLogger("exc").exception("lookup failed", key="k")
    (a,) = attrs(logs)
    assert a["exception.type"] == "KeyError"
    assert "missing" in a["exception.message"]
    assert "Traceback" in a["exception.stacktrace"]
    assert a["key"] == "k"


def test_a_failing_pipeline_never_raises_into_the_caller(logs: Logs) -> None:
    class Broken(LogRecordProcessor):
        def on_emit(self, log_record: ReadWriteLogRecord) -> None:
            raise RuntimeError("processor down")

        def shutdown(self) -> None:
            return None

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    logs.provider.add_log_record_processor(Broken())
    StructuredLogger("broken").error("still fine")
    assert logs.bodies() == ["still fine"]


def test_a_field_may_be_called_message(logs: Logs) -> None:
    StructuredLogger("names").info("body", message="a field", level="a field too")
    assert attrs(logs) == [{"message": "a field", "level": "a field too"}]
    assert logs.bodies() == ["body"]


def test_an_empty_logger_name_is_rejected() -> None:
    with pytest.raises(KaizenConfigError, match="invalid value for name"):
        StructuredLogger("")
