"""ConsoleLogExporter: the JSON line shape of the source documents, the text line, safe output."""

from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import Tracer

from kaizen_otel._internal.log_console import ConsoleLogExporter, level_name
from kaizen_otel.exceptions import KaizenConfigError
from kaizen_otel.logging import StructuredLogger, set_level
from tests.logs.conftest import Logs

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def pipeline(exporter: ConsoleLogExporter) -> LoggerProvider:
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return provider


def export_lines(logs: Logs, fmt: str = "json") -> list[str]:
    stream = io.StringIO()
    result = ConsoleLogExporter(stream, fmt=fmt).export(logs.records())
    assert result is LogRecordExportResult.SUCCESS
    return stream.getvalue().splitlines()


def test_a_json_line_has_the_source_documents_shape(logs: Logs, tracer: Tracer) -> None:
    logger = StructuredLogger("qa-agent")
    logger.add_context(agent_id="qa-agent", session_id="session-123", user_id="user@example.com")
    with tracer.start_as_current_span("invoke_agent qa") as span:
        logger.info("Processing question", question="What is AI?", estimated_tokens=100)
    (line,) = export_lines(logs)
    entry = json.loads(line)
    assert list(entry) == ["timestamp", "level", "message", "context", "trace_id", "span_id", "logger"]
    assert ISO_UTC.match(entry["timestamp"])
    assert entry["level"] == "INFO"
    assert entry["message"] == "Processing question"
    assert entry["context"] == {
        "agent_id": "qa-agent",
        "session_id": "session-123",
        "user_id": "user@example.com",
        "question": "What is AI?",
        "estimated_tokens": 100,
    }
    ctx = span.get_span_context()
    assert entry["trace_id"] == format(ctx.trace_id, "032x")
    assert entry["span_id"] == format(ctx.span_id, "016x")
    assert entry["logger"] == "qa-agent"


def test_json_lines_outside_a_span_have_null_ids_and_python_level_names(logs: Logs) -> None:
    set_level("DEBUG")
    logger = StructuredLogger("levels")
    for method in (logger.debug, logger.info, logger.warning, logger.error, logger.critical):
        method("m")
    entries = [json.loads(line) for line in export_lines(logs)]
    assert [e["level"] for e in entries] == ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    assert all(e["trace_id"] is None and e["span_id"] is None for e in entries)


def test_the_text_line_is_readable_and_shows_the_trace_id(logs: Logs, tracer: Tracer) -> None:
    with tracer.start_as_current_span("step") as span:
        StructuredLogger("agent").warning("Slow operation detected", duration_ms=5000, note="two words")
    (line,) = export_lines(logs, fmt="text")
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert re.match(r"^\S+Z WARNING  agent: Slow operation detected ", line)
    assert 'duration_ms=5000 note="two words"' in line
    assert line.endswith(f"trace_id={trace_id} span_id={format(span.get_span_context().span_id, '016x')}")


def test_the_text_line_prints_a_stack_trace_on_the_following_lines(logs: Logs) -> None:
    try:
        raise ValueError("bad input")
    except ValueError:
        StructuredLogger("agent").exception("failed")
    first, *rest = export_lines(logs, fmt="text")
    assert "failed" in first and "exception.type=ValueError" in first
    assert rest[0].startswith("Traceback") and rest[-1] == "ValueError: bad input"


def test_values_json_cannot_encode_still_give_a_valid_line(logs: Logs) -> None:
    StructuredLogger("odd").info("odd", nan=math.nan, inf=math.inf, raw=b"\x00\xff", items=[1, "a", None])
    (line,) = export_lines(logs)
    context: dict[str, Any] = json.loads(line)["context"]
    assert context == {"nan": "nan", "inf": "inf", "raw": "AP8=", "items": [1, "a", None]}


def test_stderr_is_looked_up_at_export_time(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = pipeline(ConsoleLogExporter())
    redirected = io.StringIO()
    monkeypatch.setattr(sys, "stderr", redirected)
    provider.get_logger("late").emit(body="to the redirected stderr", timestamp=1)
    provider.shutdown()
    assert json.loads(redirected.getvalue())["message"] == "to the redirected stderr"


def test_a_closed_stream_makes_export_fail_without_raising(logs: Logs) -> None:
    StructuredLogger("closed").info("x")
    stream = io.StringIO()
    stream.close()
    assert ConsoleLogExporter(stream).export(logs.records()) is LogRecordExportResult.FAILURE


def test_lines_are_not_written_after_shutdown(logs: Logs) -> None:
    StructuredLogger("done").info("x")
    stream = io.StringIO()
    exporter = ConsoleLogExporter(stream)
    exporter.shutdown()
    assert exporter.export(logs.records()) is LogRecordExportResult.FAILURE
    assert stream.getvalue() == ""


def test_an_unknown_format_is_rejected_naming_the_choices() -> None:
    with pytest.raises(KaizenConfigError) as excinfo:
        ConsoleLogExporter(fmt="xml")
    assert str(excinfo.value) == (
        "invalid value for console_format (from argument): 'xml'; expected one of json, text"
    )


def test_level_names_follow_python_logging_for_every_severity_band() -> None:
    assert [level_name(n) for n in (1, 5, 8, 9, 13, 16, 17, 21, 24)] == [
        "TRACE",
        "DEBUG",
        "DEBUG",
        "INFO",
        "WARNING",
        "WARNING",
        "ERROR",
        "CRITICAL",
        "CRITICAL",
    ]
    assert level_name(None, "notice") == "NOTICE"


_BUSY_APP = r"""
import logging
import sys
import threading
import kaizen_otel
from opentelemetry import trace

kaizen_otel.configure(service_name="interleave", prometheus_enabled=False, metrics_exporter="none")
with_user_handler = sys.argv[1] == "with-user-handler"
if with_user_handler:
    logging.basicConfig(format='{"user": "%(message)s"}')
tracer = trace.get_tracer("interleave")
log = kaizen_otel.get_logger("interleave")
payload = {"nested": {"items": ["x" * 300] * 40}}

def spans():
    for _ in range(3000):
        with tracer.start_as_current_span("step", attributes={"note": "y" * 500}):
            pass

def logs():
    for _ in range(1500):
        log.info("tick", payload=payload)

def user_logs():
    for _ in range(1500):
        logging.getLogger("app").warning("z" * 3000)

workers = [threading.Thread(target=spans), threading.Thread(target=logs)]
if with_user_handler:
    workers.append(threading.Thread(target=user_logs))
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
kaizen_otel.shutdown()
"""


def _run_busy_app(mode: str) -> list[str]:
    """Run the app writing big lines from several threads; its stderr lines, read from a pipe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_"))}
    env["OTEL_BSP_SCHEDULE_DELAY"] = "1"
    env["OTEL_BLRP_SCHEDULE_DELAY"] = "1"
    env["KAIZEN_OTEL_TRACES_EXPORTER"] = "console"
    done = subprocess.run(
        [sys.executable, "-c", _BUSY_APP, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [line for line in done.stderr.splitlines() if line.startswith("{")]


def _cut(lines: list[str]) -> list[str]:
    broken = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            broken.append(line[:200])
    return broken


def test_span_and_log_lines_on_one_piped_stderr_never_cut_into_each_other() -> None:
    """Two batch workers write big lines to the same pipe; a log shipper must parse every one."""
    lines = _run_busy_app("alone")
    broken = _cut(lines)
    assert not broken, f"{len(broken)} of {len(lines)} lines were cut: {broken[:2]}"
    spans = sum(1 for line in lines if '"span":"step"' in line)
    logs = sum(1 for line in lines if '"message": "tick"' in line)
    assert (spans, logs) == (3000, 1500)


def test_the_applications_own_stderr_handler_and_ours_never_cut_each_others_lines() -> None:
    """``logging.basicConfig`` after ``configure()`` prints to the same pipe while we export."""
    lines = _run_busy_app("with-user-handler")
    broken = _cut(lines)
    assert not broken, f"{len(broken)} of {len(lines)} lines were cut: {broken[:2]}"
    theirs = sum(1 for line in lines if line.startswith('{"user": "zzz'))
    bridged = sum(1 for line in lines if '"message": "zzz' in line)
    ticks = sum(1 for line in lines if '"message": "tick"' in line)
    assert (theirs, bridged, ticks) == (1500, 1500, 1500)
