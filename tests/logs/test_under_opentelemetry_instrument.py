"""Under ``opentelemetry-instrument``, with opentelemetry-instrumentation-logging active, each log
call still prints exactly one line, scrubbed and trace-correlated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

APP = """
import logging
from opentelemetry import trace
from kaizen_otel.logging import get_logger

logging.getLogger("app").warning("stdlib line, password=Hunter2Hunter2")
with trace.get_tracer("t").start_as_current_span("work") as span:
    get_logger("agent").warning("structured line", api_key="plain-key-value")
    print(format(span.get_span_context().trace_id, "032x"))
print(sorted(type(h).__name__ for h in logging.getLogger().handlers))
"""


@pytest.mark.integration
def test_each_call_prints_one_scrubbed_line_with_the_instrumentation_active(tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    bin_dir = Path(sys.executable).parent
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "OTEL_PYTHON_DISTRO": "kaizen_otel",
        "OTEL_PYTHON_CONFIGURATOR": "kaizen_otel",
        "KAIZEN_OTEL_PROMETHEUS_ENABLED": "false",
    }
    done = subprocess.run(
        [str(bin_dir / "opentelemetry-instrument"), sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    trace_id, handlers = done.stdout.splitlines()
    assert handlers == "['KaizenLoggingHandler', 'LoggingHandler']"  # the instrumentation really ran
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [(e["logger"], e["message"]) for e in lines] == [
        ("app", "stdlib line, password=[REDACTED:secret]"),
        ("agent", "structured line"),
    ]
    assert lines[1]["context"] == {"api_key": "[REDACTED]"}
    assert lines[1]["trace_id"] == trace_id
    assert "Hunter2Hunter2" not in done.stderr and "plain-key-value" not in done.stderr
