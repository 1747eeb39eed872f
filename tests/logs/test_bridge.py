"""The stdlib bridge: one handler, trace correlation, no duplicates, no recursion, hands off."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

import pytest
from opentelemetry.instrumentation.logging import LoggingInstrumentor
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.trace import Tracer

from kaizen_otel._internal.log_bridge import KaizenLoggingHandler, install_logging_bridge
from kaizen_otel.exceptions import KaizenConfigError
from kaizen_otel.logging import StructuredLogger
from tests.logs.conftest import Logs


@pytest.fixture
def app_logger() -> Iterator[logging.Logger]:
    """An application logger at INFO, restored afterwards."""
    logger = logging.getLogger("tests.bridge.app")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    yield logger
    logger.setLevel(old_level)


@pytest.fixture
def bridge(logs: Logs) -> Iterator[Callable[[], None]]:
    uninstall = install_logging_bridge(logs.provider, "INFO")
    yield uninstall
    uninstall()


@pytest.fixture
def instrumented() -> Iterator[LoggingInstrumentor]:
    instrumentor = LoggingInstrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()


def ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, KaizenLoggingHandler)]


def test_stdlib_records_reach_the_provider_with_trace_ids(
    logs: Logs, bridge: Callable[[], None], app_logger: logging.Logger, tracer: Tracer
) -> None:
    with tracer.start_as_current_span("tool") as span:
        app_logger.info("fetched %d rows", 3, extra={"table": "users"})
    app_logger.warning("outside")
    inside, outside = (r.log_record for r in logs.records())
    assert inside.body == "fetched 3 rows"
    assert inside.trace_id == span.get_span_context().trace_id
    assert inside.span_id == span.get_span_context().span_id
    assert dict(inside.attributes or {}) == {"table": "users"}
    assert inside.severity_text == "INFO" and outside.severity_text == "WARN"
    assert not outside.trace_id
    assert logs.records()[0].instrumentation_scope.name == "tests.bridge.app"  # type: ignore[union-attr]


def test_installing_twice_leaves_exactly_one_handler(logs: Logs, app_logger: logging.Logger) -> None:
    first = install_logging_bridge(logs.provider, "INFO")
    second = install_logging_bridge(logs.provider, "INFO")
    try:
        assert len(ours()) == 1
        app_logger.info("once")
        assert logs.bodies() == ["once"]
    finally:
        first()
        second()
    assert ours() == []


def test_the_applications_handlers_and_levels_are_left_as_they_were(logs: Logs) -> None:
    root = logging.getLogger()
    app_handler = logging.StreamHandler()
    root.addHandler(app_handler)
    before = (list(root.handlers), root.level, logging.getLogger("some.lib").level)
    try:
        uninstall = install_logging_bridge(logs.provider, "DEBUG")
        assert [h for h in root.handlers if not isinstance(h, KaizenLoggingHandler)] == before[0]
        assert (root.level, logging.getLogger("some.lib").level) == before[1:]
        uninstall()
        assert (list(root.handlers), root.level, logging.getLogger("some.lib").level) == before
    finally:
        root.removeHandler(app_handler)


def test_records_below_the_bridge_level_are_not_forwarded(logs: Logs, app_logger: logging.Logger) -> None:
    uninstall = install_logging_bridge(logs.provider, "WARNING")
    try:
        app_logger.info("too quiet")
        app_logger.error("loud enough")
    finally:
        uninstall()
    assert logs.bodies() == ["loud enough"]


def test_one_record_per_call_when_the_instrumentation_is_installed_afterwards(
    logs: Logs, bridge: Callable[[], None], app_logger: logging.Logger
) -> None:
    instrumentor = LoggingInstrumentor()
    instrumentor.instrument()
    try:
        assert len(logging.getLogger().handlers) >= 2  # its handler is really there
        app_logger.warning("exactly once")
    finally:
        instrumentor.uninstrument()
    assert logs.bodies() == ["exactly once"]


def test_one_record_per_call_when_the_instrumentation_was_installed_first(
    logs: Logs, instrumented: LoggingInstrumentor, app_logger: logging.Logger
) -> None:
    uninstall = install_logging_bridge(logs.provider, "INFO")
    try:
        app_logger.warning("exactly once")
        StructuredLogger("direct").warning("also once")
    finally:
        uninstall()
    assert logs.bodies() == ["exactly once", "also once"]


def test_uninstalling_gives_the_instrumentation_handler_its_records_back(
    logs: Logs, instrumented: LoggingInstrumentor, app_logger: logging.Logger
) -> None:
    uninstall = install_logging_bridge(logs.provider, "INFO")
    uninstall()
    app_logger.warning("through the instrumentation")
    assert logs.bodies() == ["through the instrumentation"]


def test_a_handler_feeding_another_provider_is_left_alone(logs: Logs, app_logger: logging.Logger) -> None:
    from opentelemetry.instrumentation.logging.handler import LoggingHandler

    other_exporter = InMemoryLogRecordExporter()
    other = LoggerProvider(shutdown_on_exit=False)
    other.add_log_record_processor(SimpleLogRecordProcessor(other_exporter))
    separate = LoggingHandler(logger_provider=other)
    logging.getLogger().addHandler(separate)
    uninstall = install_logging_bridge(logs.provider, "INFO")
    try:
        app_logger.warning("to both pipelines")
    finally:
        uninstall()
        logging.getLogger().removeHandler(separate)
    assert logs.bodies() == ["to both pipelines"]
    assert [r.log_record.body for r in other_exporter.get_finished_logs()] == ["to both pipelines"]


class LoggingExporter(LogRecordExporter):
    """An exporter that logs through stdlib logging on every export, as real exporters do on errors."""

    def __init__(self) -> None:
        self.exported: list[ReadableLogRecord] = []

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self.exported.extend(batch)
        logging.getLogger("tests.bridge.exporter").warning("export is slow")
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def test_an_exporter_that_logs_does_not_feed_back_in_the_same_thread(app_logger: logging.Logger) -> None:
    exporter = LoggingExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    uninstall = install_logging_bridge(provider, "INFO")
    try:
        app_logger.warning("one")
    finally:
        uninstall()
    assert [r.log_record.body for r in exporter.exported] == ["one"]


def test_an_exporter_that_logs_does_not_feed_back_from_the_batch_thread(app_logger: logging.Logger) -> None:
    exporter = LoggingExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=10))
    uninstall = install_logging_bridge(provider, "INFO")
    try:
        app_logger.warning("one")
        provider.force_flush()
        provider.force_flush()
    finally:
        uninstall()
        provider.shutdown()
    assert [r.log_record.body for r in exporter.exported] == ["one"]


def test_a_record_that_cannot_reenter_is_shown_on_stderr_when_nothing_else_shows_it(
    app_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    exporter = LoggingExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    root = logging.getLogger()
    saved = list(root.handlers)
    for handler in saved:  # pytest's capture handlers would otherwise count as "someone shows it"
        root.removeHandler(handler)
    uninstall = install_logging_bridge(provider, "INFO")
    try:
        app_logger.warning("one")
    finally:
        uninstall()
        for handler in saved:
            root.addHandler(handler)
    assert "export is slow" in capsys.readouterr().err


def test_exceptions_on_stdlib_records_become_exception_attributes(
    logs: Logs, bridge: Callable[[], None], app_logger: logging.Logger
) -> None:
    try:
        raise ConnectionError("upstream gone")
    except ConnectionError:
        app_logger.exception("call failed")
    attributes = dict(logs.records()[0].log_record.attributes or {})
    assert attributes["exception.type"] == "ConnectionError"
    assert "upstream gone" in attributes["exception.stacktrace"]


def test_bad_format_arguments_do_not_lose_the_record(logs: Logs, bridge: Callable[[], None]) -> None:
    record = logging.LogRecord(
        "tests.bridge.app", logging.WARNING, __file__, 1, "%d items", ("not a number",), None
    )
    (handler,) = ours()
    handler.handle(record)  # directly: pytest's own capture handler raises on such records
    assert logs.bodies() == ["%d items ('not a number',)"]


def test_a_bad_level_is_rejected_naming_the_value_and_the_choices(logs: Logs) -> None:
    with pytest.raises(KaizenConfigError) as excinfo:
        install_logging_bridge(logs.provider, "VERBOSE")
    assert str(excinfo.value) == (
        "invalid value for log_level (from argument): 'VERBOSE'; "
        "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    )
    assert ours() == []
