"""The agent step of ``bench_agent_step.py`` written with each peer SDK, against the same bare step.

``make bench-peers`` (``python -m benchmarks.peers``) creates one virtualenv per peer under
``.venv-peers/`` with the exact version pinned in ``PEERS``, then runs ``child.py`` once per side:
kaizen_otel in the project's own virtualenv, each peer in its own. Every run measures its side
against the bare step of ``bench_agent_step.py`` in the same process, in alternating rounds of
process CPU time, so every side's ratio has the same meaning whatever OpenTelemetry SDK version its
virtualenv resolved. The results go to ``benchmarks/results/peers.json`` and into the "Peers"
section of docs/performance.md.

Never part of ``make test`` and never a dependency of the package: the peers live only in their
own virtualenvs.
"""

from __future__ import annotations

# side -> the requirements installed into .venv-peers/<side> (exact versions, so runs compare).
# traceloop-sdk imports httpx without requiring it (its users have it through their LLM client).
PEERS: dict[str, tuple[str, ...]] = {
    "logfire": ("logfire==5.4.0",),
    "openlit": ("openlit==1.45.0",),
    "traceloop": ("traceloop-sdk==0.62.4", "httpx==0.28.1"),
}

# side -> the distribution whose version the report names.
DISTRIBUTIONS: dict[str, str] = {
    "kaizen": "kaizen-otel",
    "logfire": "logfire",
    "openlit": "openlit",
    "traceloop": "traceloop-sdk",
}

# side -> how its step is written (rendered into docs/performance.md).
MAPPING: dict[str, str] = {
    "kaizen": (
        "`configure()` defaults; `agent_run`, `llm_call` (+ `record_usage`, `set_response`), "
        "`tool_call`; `get_logger(...).info`. Metrics and cost come from the helpers."
    ),
    "logfire": (
        "`logfire.configure(send_to_logfire=False, console=False)`, a `BatchSpanProcessor` in "
        "`additional_span_processors`, a reader in `MetricsOptions`; `logfire.span` for the agent, "
        "the LLM call (kind CLIENT, usage and cost as attributes) and each tool; `logfire.info` for "
        "the log lines (logfire writes them as spans); the step's metrics by hand with "
        "`logfire.metric_histogram`/`metric_counter`/`metric_up_down_counter`. By default logfire "
        "scrubs every span's attributes when it ends (as our redaction does) and adds code location, "
        "message and JSON-schema attributes to each."
    ),
    "openlit": (
        "Providers set up first with the drop exporters (openlit reuses them), then "
        "`openlit.init(pricing_json=<local file>)`; `openlit.agent_context` and "
        "`openlit.start_trace` (+ `set_metadata` for usage and cost) for the agent, the LLM call and "
        "each tool; openlit has no log or manual-metric API, so the log lines go through the OTel "
        "logs API and the metrics through the OTel metrics API on the providers openlit uses."
    ),
    "traceloop": (
        "`Traceloop.init(exporter=..., metrics_exporter=..., logging_exporter=...)` with "
        "`TRACELOOP_LOGGING_ENABLED=true`; `@agent` and `@tool` decorators, `track_llm_call` "
        "(+ `report_request`, `report_response`, `report_usage`); the log lines through stdlib "
        "`logging` (traceloop's handler); the metrics by hand through the OTel metrics API on "
        "traceloop's meter provider (its decorators record none). Its log setup leaves two OTel "
        "handlers on the root logger: its own, and the one opentelemetry-instrumentation-logging "
        "adds, bound to the global log provider (unset here, so its records go nowhere); both run "
        "for every line."
    ),
}
