"""The application's own logging setup keeps working with kaizen_otel, in real processes.

Each test runs a small program in a subprocess, as an application would run: ``basicConfig``
after ``configure()`` (or under ``opentelemetry-instrument``), format strings using the trace
fields, and structlog with its fields arriving as attributes (read from the console exporter's
JSON lines, which print each OTel log record with its attributes under ``context``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def _run(
    tmp_path: Path, program: str, *, instrument: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(program)
    environment = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "KAIZEN_OTEL_PROMETHEUS_ENABLED": "false",
        **env,
    }
    command = [sys.executable, str(script)]
    if instrument:
        command = [str(BIN / "opentelemetry-instrument"), *command]
        environment |= {"OTEL_PYTHON_DISTRO": "kaizen_otel", "OTEL_PYTHON_CONFIGURATOR": "kaizen_otel"}
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60, check=True)


def _otel_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def _app_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("APP|")]


BASIC_CONFIG = """
import logging
{setup}
logging.basicConfig(level=logging.INFO, format="APP|%(levelname)s|%(name)s|%(message)s")
log = logging.getLogger("shop")
log.info("order %d placed", 42)
log.debug("not shown")
logging.getLogger("shop.payments").warning("card declined")
"""


def test_basic_config_after_configure_works_as_it_does_without_kaizen(tmp_path: Path) -> None:
    without = _run(tmp_path, BASIC_CONFIG.format(setup=""))
    configured = _run(tmp_path, BASIC_CONFIG.format(setup="import kaizen_otel; kaizen_otel.configure()"))
    assert _app_lines(without.stderr) == [
        "APP|INFO|shop|order 42 placed",
        "APP|WARNING|shop.payments|card declined",
    ]
    assert _app_lines(configured.stderr) == _app_lines(without.stderr)
    # ... and the INFO record the application's level lets through reaches the pipeline too
    assert [(e["logger"], e["message"]) for e in _otel_lines(configured.stderr)] == [
        ("shop", "order 42 placed"),
        ("shop.payments", "card declined"),
    ]


def test_basic_config_under_opentelemetry_instrument_works_as_without_it(tmp_path: Path) -> None:
    without = _run(tmp_path, BASIC_CONFIG.format(setup=""))
    instrumented = _run(tmp_path, BASIC_CONFIG.format(setup=""), instrument=True)
    assert _app_lines(instrumented.stderr) == _app_lines(without.stderr)
    assert [e["message"] for e in _otel_lines(instrumented.stderr)] == ["order 42 placed", "card declined"]


def test_basic_config_with_force_replaces_the_apps_handlers_and_keeps_the_bridge(tmp_path: Path) -> None:
    program = """
import logging, kaizen_otel
logging.basicConfig(format="OLD|%(message)s")
kaizen_otel.configure()
logging.basicConfig(level=logging.INFO, format="APP|%(message)s", force=True)
logging.getLogger("shop").info("after force")
"""
    done = _run(tmp_path, program)
    assert _app_lines(done.stderr) == ["APP|after force"]
    assert "OLD|" not in done.stderr
    assert [e["message"] for e in _otel_lines(done.stderr)] == ["after force"]


def test_a_format_with_the_otel_trace_fields_works_inside_and_outside_spans(tmp_path: Path) -> None:
    program = """
import logging, kaizen_otel
from opentelemetry import trace
kaizen_otel.configure(service_name="checkout", logs_exporter="none")
logging.basicConfig(
    level=logging.INFO,
    format="APP|%(otelTraceID)s|%(otelSpanID)s|%(otelServiceName)s|%(otelTraceSampled)s|%(message)s",
)
log = logging.getLogger("shop")
log.info("outside")
with trace.get_tracer("t").start_as_current_span("pay") as span:
    log.info("inside")
    context = span.get_span_context()
    print(format(context.trace_id, "032x"), format(context.span_id, "016x"))
"""
    done = _run(tmp_path, program)
    trace_id, span_id = done.stdout.split()
    assert _app_lines(done.stderr) == [
        "APP|0|0|checkout|False|outside",
        f"APP|{trace_id}|{span_id}|checkout|True|inside",
    ]
    assert "--- Logging error ---" not in done.stderr


def test_structlog_through_the_stdlib_keeps_its_fields_as_attributes(tmp_path: Path) -> None:
    program = """
import logging, kaizen_otel, structlog
kaizen_otel.configure(service_name="shop")
structlog.configure(
    processors=[structlog.stdlib.add_log_level, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
)
handler = logging.StreamHandler()
handler.setFormatter(structlog.stdlib.ProcessorFormatter(processors=[
    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
    structlog.processors.KeyValueRenderer(key_order=["event"]),
]))
root = logging.getLogger()
root.addHandler(handler)
root.setLevel(logging.INFO)
structlog.get_logger("orders").bind(order_id=42).info("order placed", items=3, total=9.5)
"""
    done = _run(tmp_path, program)
    (line,) = _otel_lines(done.stderr)
    assert line["message"] == "order placed"
    assert line["context"] == {"order_id": 42, "items": 3, "total": 9.5}
    assert line["level"] == "INFO" and line["logger"] == "orders"
    assert "event='order placed'" in done.stderr  # the application's own rendering is unchanged


def test_structlog_on_its_own_sends_fields_as_attributes_with_the_processor(tmp_path: Path) -> None:
    program = """
import kaizen_otel, structlog
from opentelemetry import trace
from kaizen_otel.logging import StructlogProcessor
kaizen_otel.configure(service_name="shop")
structlog.configure(processors=[
    structlog.contextvars.merge_contextvars,
    StructlogProcessor(),
    structlog.processors.KeyValueRenderer(key_order=["event"]),
])
structlog.contextvars.bind_contextvars(request_id="r-1")
log = structlog.get_logger()
with trace.get_tracer("t").start_as_current_span("work") as span:
    log.warning("slow call", duration_ms=5000, secret_token="tok-abcdefgh12345678")
    print("TRACE", format(span.get_span_context().trace_id, "032x"))
log.debug("below the level")
"""
    done = _run(tmp_path, program)
    (line,) = _otel_lines(done.stderr)
    assert line["message"] == "slow call" and line["level"] == "WARNING"
    assert line["context"] == {"request_id": "r-1", "duration_ms": 5000, "secret_token": "[REDACTED]"}
    (trace_line,) = [line for line in done.stdout.splitlines() if line.startswith("TRACE ")]
    assert line["trace_id"] == trace_line.split()[1]
    assert "event='slow call'" in done.stdout  # structlog's own output goes on as before
