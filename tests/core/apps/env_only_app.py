"""An application that knows nothing of kaizen_otel: it only uses the OpenTelemetry API.

Run under ``opentelemetry-instrument``; it prints one JSON line describing what it found.
"""

import json
import logging
import os
import sys
import urllib.request

from opentelemetry import _logs, metrics, trace

tracer = trace.get_tracer("env-only-app")
with tracer.start_as_current_span("invoke_agent planner") as span:
    span.set_attribute("gen_ai.agent.name", "planner")
    metrics.get_meter("env-only-app").create_counter("app.jobs").add(2, {"kind": "batch"})
    logging.getLogger("env_only_app").warning("planning step done")

import kaizen_otel  # noqa: E402  (imported late on purpose: the app never called configure)

handle = kaizen_otel.get_observability()
body = ""
if handle is not None and handle.metrics_url:
    body = urllib.request.urlopen(handle.metrics_url, timeout=5).read().decode()
print(
    json.dumps(
        {
            "configured_by": handle.origin if handle else None,
            "tracer_provider": type(trace.get_tracer_provider()).__name__,
            "logger_provider": type(_logs.get_logger_provider()).__name__,
            "metrics_url": handle.metrics_url if handle else None,
            "metrics_has_job_counter": 'app_jobs_total{kind="batch"} 2.0' in body,
            "problems": handle.problems if handle else [],
            "pid": os.getpid(),
        }
    ),
    file=sys.stdout,
    flush=True,
)
