"""Send every secret of the corpus through every channel of a process configured by environment.

Run by tests/redaction/test_corpus.py with the OTLP endpoint of a real receiver, console exporters
on stderr and the audit trail on. Each span, log record and audit record carries ``corpus_case``
(the index of its secret in ``SECRETS``), so the test can check each record for its own secret.
Prints ``{"cases": N}`` on stdout when everything was flushed.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, for tests.*

from opentelemetry import _logs, trace
from opentelemetry.trace import Link, StatusCode

import kaizen_otel
from tests.redaction.corpus import SECRETS

SPAN_CHANNELS = ("attribute", "span_name", "event", "exception", "status", "link", "helper")
LOG_CHANNELS = ("message", "field", "stdlib", "stdlib_exception", "otel_body")
AUDIT_CHANNELS = ("details", "metadata")


def spans(tracer: trace.Tracer, case: int, text: str) -> None:
    tag: dict[str, Any] = {"corpus_case": case}
    with tracer.start_as_current_span("attribute", attributes={**tag, "note": text, "notes": ["ok", text]}):
        pass
    with tracer.start_as_current_span(text, attributes={**tag, "channel": "span_name"}):
        pass
    with tracer.start_as_current_span("event", attributes=tag) as span:
        span.add_event(text, {"detail": text})
    try:
        with tracer.start_as_current_span("exception", attributes=tag):
            raise ValueError(f"request failed: {text}")
    except ValueError:
        pass
    with tracer.start_as_current_span("status", attributes=tag) as span:
        span.set_status(StatusCode.ERROR, text)
        context = span.get_span_context()
    with tracer.start_as_current_span("link", attributes=tag, links=[Link(context, {"note": text})]):
        pass
    try:
        with kaizen_otel.tool_call("lookup", attributes=tag):
            raise RuntimeError(text)
    except RuntimeError:
        pass


def logs(structured: Any, stdlib: logging.Logger, api: Any, case: int, text: str) -> None:
    structured.info(text, corpus_case=case)
    structured.info("field", corpus_case=case, detail=text)
    stdlib.warning("stdlib %s", text, extra={"corpus_case": case})
    try:
        raise ConnectionError(text)
    except ConnectionError:
        stdlib.exception("stdlib exception", extra={"corpus_case": case})
    api.emit(
        body={"nested": {"items": [text, 1]}, "text": text},
        attributes={"corpus_case": case},
        event_name="corpus.body",
    )


def main() -> None:
    handle = kaizen_otel.configure()
    tracer = trace.get_tracer("corpus")
    structured = kaizen_otel.get_logger("corpus")
    stdlib = logging.getLogger("corpus.stdlib")
    api = _logs.get_logger("corpus.api")
    for case, entry in enumerate(SECRETS):
        spans(tracer, case, entry.text)
        logs(structured, stdlib, api, case, entry.text)
        handle.audit.record(
            "corpus-agent",
            "tool_execute",
            details={"corpus_case": case, "args": [entry.text], "note": entry.text},
            metadata={"corpus_case": case, "raw": entry.text},
        )
    handle.force_flush()
    kaizen_otel.shutdown()
    print(json.dumps({"cases": len(SECRETS)}))


if __name__ == "__main__":
    main()
