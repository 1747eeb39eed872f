"""Every secret of the corpus, through every channel, reaching every sink of a real process: 0 leaks.

One subprocess (``apps/corpus_app.py``) configured by environment sends each secret through the
span channels (attribute, span name, event name and attribute, exception, status description,
link attribute, a failing agent-helper call), the log channels (StructuredLogger message and field,
stdlib message and exception, an OTel log body) and the audit trail (details and metadata). Its
telemetry goes to a real rotel OTLP receiver and, as JSON lines, to stderr; its audit trail to a
file. Each record is checked for its own secret, then everything for every secret.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.redaction.apps.corpus_app import AUDIT_CHANNELS, LOG_CHANNELS, SPAN_CHANNELS
from tests.redaction.corpus import SECRETS, leaks
from tests.testbed.servers import Rotel

pytestmark = pytest.mark.integration

APP = Path(__file__).resolve().parent / "apps" / "corpus_app.py"
SERVICE = "redaction-corpus"


def strings(value: Any) -> Iterator[str]:
    """Every string inside a record, keys included: numbers (timestamps) cannot hold a secret."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def case_of(record: dict[str, Any]) -> int | None:
    """The ``corpus_case`` a record carries (attributes, console context, audit details, body)."""
    for holder in ("attributes", "context", "details"):
        found = (record.get(holder) or {}).get("corpus_case")
        if found is not None:
            return int(found)
    body = record.get("body")
    if isinstance(body, dict):
        return case_of(body)
    return None


def by_case(records: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Records grouped by case; the untagged ones (the helpers' own warnings) are left to the
    whole-output check."""
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        case = case_of(record)
        if case is not None:
            grouped[case].append(record)
    return grouped


@pytest.fixture(scope="module")
def sinks(rotel: Rotel, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Run the corpus app once; what each sink received, as records."""
    audit_path = tmp_path_factory.mktemp("corpus") / "audit.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAIZEN_OTEL_"))}
    env.update(rotel.otlp_env("grpc"))
    env.update(
        {
            "OTEL_SERVICE_NAME": SERVICE,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_BLRP_SCHEDULE_DELAY": "100",
            "KAIZEN_OTEL_TRACES_EXPORTER": "otlp,console",
            "KAIZEN_OTEL_LOGS_EXPORTER": "otlp,console",
            "KAIZEN_OTEL_METRICS_EXPORTER": "none",
            "KAIZEN_OTEL_PROMETHEUS_ENABLED": "false",
            "KAIZEN_OTEL_CONSOLE_FORMAT": "json",
            "KAIZEN_OTEL_ENABLE_AUDIT": "true",
            "KAIZEN_OTEL_AUDIT_PATH": str(audit_path),
            "KAIZEN_OTEL_AUDIT_FORWARD_OTLP": "true",
        }
    )
    done = subprocess.run(
        [sys.executable, str(APP)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"cases": len(SECRETS)}
    expected_logs = len(SECRETS) * (len(LOG_CHANNELS) + 1)  # + the audit records forwarded as OTLP
    received = rotel.wait_for(
        lambda r: r["signal"] == "log" and r["service_name"] == SERVICE, count=expected_logs, timeout=30
    )
    spans = rotel.wait_for(
        lambda r: r["signal"] == "span" and r["service_name"] == SERVICE,
        count=len(SECRETS) * len(SPAN_CHANNELS),
        timeout=30,
    )
    lines = done.stderr.splitlines()
    audit = [json.loads(line) for line in audit_path.read_text().splitlines()]
    return {
        "otlp_spans": spans,
        "otlp_logs": received,
        "stderr": [json.loads(line) for line in lines if line.startswith("{")],
        "stderr_other": [{"line": line} for line in lines if not line.startswith("{")],
        "audit": [record for record in audit if record.get("kind") == "record"],
        "audit_seals": [record for record in audit if record.get("kind") != "record"],
    }


def test_every_channel_reached_every_sink(sinks: dict[str, list[dict[str, Any]]]) -> None:
    """Nothing was lost on the way, so "no leak" below is about scrubbing, not about missing data."""
    per_case = {
        "otlp_spans": len(SPAN_CHANNELS),
        "otlp_logs": len(LOG_CHANNELS) + 1,
        "stderr": len(SPAN_CHANNELS) + len(LOG_CHANNELS),
        "audit": 1,
    }
    for sink, count in per_case.items():
        grouped = by_case(sinks[sink])
        assert sorted(grouped) == list(range(len(SECRETS))), sink
        assert {len(records) for records in grouped.values()} == {count}, sink
    assert len(AUDIT_CHANNELS) == 2  # details and metadata ride in the same audit record
    linked = [span for span in sinks["otlp_spans"] if span["links"]]
    assert len(linked) == len(SECRETS)
    assert all("[REDACTED" in span["links"][0]["attributes"]["note"] for span in linked)
    statuses = [span["status"]["message"] for span in sinks["otlp_spans"] if span["name"] == "exception"]
    assert len(statuses) == len(SECRETS)
    assert all(message.startswith("ValueError: request failed: ") for message in statuses)


@pytest.mark.parametrize("sink", ["otlp_spans", "otlp_logs", "stderr", "audit"])
def test_no_record_holds_any_part_of_its_secret(sink: str, sinks: dict[str, list[dict[str, Any]]]) -> None:
    found = []
    for case, records in by_case(sinks[sink]).items():
        entry = SECRETS[case]
        for record in records:
            text = "\n".join(strings(record))
            if leaks(entry.secret, text):
                found.append((case, entry.kind, text[:300]))
    assert found == []


def test_no_sink_holds_any_secret_anywhere(sinks: dict[str, list[dict[str, Any]]]) -> None:
    """The whole output, stray lines and seals included, against every secret (10-character runs)."""
    everything = "\n".join(
        text for records in sinks.values() for record in records for text in strings(record)
    )
    found = [(entry.kind, entry.secret[:12]) for entry in SECRETS if leaks(entry.secret, everything, size=10)]
    assert found == []


def test_the_markers_name_the_kind_of_every_secret(sinks: dict[str, list[dict[str, Any]]]) -> None:
    for case, records in by_case(sinks["audit"]).items():
        assert "[REDACTED" in json.dumps(records[0]["details"]), SECRETS[case]
