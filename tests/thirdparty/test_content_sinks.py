"""Message content that instrumentations record in log records as well as on spans, through every
sink: OTLP (to the rotel receiver), the console, the live view and the audit trail.

openai + openai-v2 (util-genai's ``gen_ai.client.inference.operation.details`` event, content in
its attributes) and anthropic + opentelemetry-instrumentation-anthropic in its events mode
(``gen_ai.system.message`` / ``gen_ai.user.message`` / ``gen_ai.choice``, content in the body), and
the anthropic client's own tracing, are each told by their own settings to record content. With
``KAIZEN_OTEL_CAPTURE_MESSAGE_CONTENT=false`` none of it reaches any sink; with ``true`` it does,
with the API key inside the prompt redacted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai")
pytest.importorskip("anthropic")
pytest.importorskip("opentelemetry.instrumentation.openai_v2")
pytest.importorskip("opentelemetry.instrumentation.anthropic")

from tests.testbed.servers import Rotel, free_port
from tests.thirdparty.app_content import KEY

REPO = Path(__file__).resolve().parents[2]
CONTENT = ("secret-prompt-text", "secret-system-text", "The answer is 42")
EVENTS = {"gen_ai.client.inference.operation.details", "gen_ai.system.message", "gen_ai.user.message"}


def _start(capture: str, fake_models: Any, rotel: Rotel, tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    service = f"content-{capture}-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_", "TRACELOOP_"))}
    env.update(rotel.otlp_env("grpc"))
    env.update(
        PYTHONPATH=str(REPO),
        OTEL_SERVICE_NAME=service,
        OTEL_TRACES_EXPORTER="otlp,console",
        OTEL_LOGS_EXPORTER="otlp,console",
        OTEL_METRICS_EXPORTER="prometheus",
        KAIZEN_OTEL_CONSOLE_FORMAT="json",
        KAIZEN_OTEL_PROMETHEUS_PORT=str(free_port()),
        KAIZEN_OTEL_LIVE_VIEW="true",
        KAIZEN_OTEL_PROCESS_METRICS="false",
        KAIZEN_OTEL_ENABLE_AUDIT="true",
        KAIZEN_OTEL_AUDIT_PATH=str(tmp_path / capture / "audit.jsonl"),
        KAIZEN_OTEL_BUDGET_RUN_TOKENS="200",  # crossed: the trail gets a record
        KAIZEN_OTEL_CAPTURE_MESSAGE_CONTENT=capture,
        # each instrumentation's own switch, all on
        OTEL_SEMCONV_STABILITY_OPT_IN="gen_ai_latest_experimental",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_AND_EVENT",
        TRACELOOP_TRACE_CONTENT="true",
        ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE="content",
    )
    (tmp_path / capture).mkdir(mode=0o700)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.thirdparty.app_content", fake_models.anthropic_url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, service


def _sinks(
    proc: subprocess.Popen[str], service: str, rotel: Rotel, tmp_path: Path, capture: str
) -> dict[str, str]:
    """The text each sink holds after the app ran: OTLP spans and logs, console, live view, audit."""
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err[-3000:]
    logs = rotel.wait_for(lambda r: r["signal"] == "log" and r.get("service_name") == service, count=5)
    spans = rotel.wait_for(lambda r: r["signal"] == "span" and r.get("service_name") == service, count=4)
    names = {r["event_name"] for r in logs}
    assert names >= EVENTS, names  # the instrumentations' events did arrive
    return {
        "otlp logs": json.dumps(logs),
        "otlp spans": json.dumps(spans),
        "console": err,
        "live view": json.dumps(json.loads(out.strip().splitlines()[-1])["live"]),
        "audit": (tmp_path / capture / "audit.jsonl").read_text(),
    }


@pytest.fixture
def both_runs(fake_models: Any, rotel: Rotel, tmp_path: Path) -> dict[str, dict[str, str]]:
    """Capture off and on, run side by side."""
    started = {capture: _start(capture, fake_models, rotel, tmp_path) for capture in ("false", "true")}
    return {
        capture: _sinks(proc, service, rotel, tmp_path, capture)
        for capture, (proc, service) in started.items()
    }


def test_no_sink_shows_content_an_instrumentation_recorded_when_capture_is_off(both_runs):
    for sink, text in both_runs["false"].items():
        for content in CONTENT:
            assert content not in text, f"{content!r} reached {sink}"
        assert KEY not in text, sink


def test_with_capture_on_content_reaches_the_sinks_with_the_key_inside_it_redacted(both_runs):
    sinks = both_runs["true"]
    for sink in ("otlp logs", "otlp spans", "console", "live view"):
        assert "secret-prompt-text" in sinks[sink], sink
        assert "The answer is 42" in sinks[sink], sink
    logs = json.loads(sinks["otlp logs"])
    details = [r for r in logs if r["event_name"] == "gen_ai.client.inference.operation.details"]
    assert "secret-prompt-text" in json.dumps(details[0]["attributes"]["gen_ai.input.messages"])
    user = [r for r in logs if r["event_name"] == "gen_ai.user.message"]
    assert "secret-prompt-text" in json.dumps(user[0]["body"])
    for sink, text in sinks.items():
        assert KEY not in text, sink
    assert "[REDACTED" in sinks["otlp logs"]
