"""The record API: what a record holds, where it goes, and what it refuses."""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
from collections.abc import Mapping
from typing import Any

import pytest
from opentelemetry import _logs
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from kaizen_otel._internal.settings import resolve
from kaizen_otel.audit import AuditEntry, AuditTrail, verify_trail
from kaizen_otel.exceptions import AuditError, KaizenConfigError
from tests.audit.conftest import KEY, lines_of, records_in


def test_record_returns_the_durable_entry_with_every_field(trail: AuditTrail) -> None:
    entry = trail.record(
        "qa-agent",
        "tool_execute",
        {"tool_name": "bash", "command": "ls -la"},
        result="success",
        user_id="user@example.com",
        metadata={"session_id": "session-123"},
    )
    assert isinstance(entry, AuditEntry)
    assert (entry.agent_id, entry.action, entry.result, entry.user_id) == (
        "qa-agent",
        "tool_execute",
        "success",
        "user@example.com",
    )
    assert entry.details == {"tool_name": "bash", "command": "ls -la"}
    assert entry.metadata == {"session_id": "session-123"}
    assert entry.timestamp.tzinfo is not None and entry.timestamp_ns > 0
    assert entry.seq == 2  # line 0 is the genesis line, line 1 its open seal
    on_disk = records_in(trail.path)
    assert on_disk[0]["hash"] == entry.hash and on_disk[0]["timestamp"] == entry.timestamp_ns
    assert entry.to_dict()["timestamp"].endswith("Z")
    assert list(trail.query()) == [entry]  # the entry returned is the entry read back
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.seq = 3  # type: ignore[misc]


def test_record_carries_the_active_span_ids(trail: AuditTrail) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("invoke_agent qa") as span:
        entry = trail.record("qa-agent", "tool_execute")
    context = span.get_span_context()
    assert entry.trace_id == f"{context.trace_id:032x}"
    assert entry.span_id == f"{context.span_id:016x}"
    outside = trail.record("qa-agent", "tool_execute")
    assert outside.trace_id is None and outside.span_id is None


def test_redaction_runs_before_anything_is_written(trail_path: str) -> None:
    def redact(values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: ("[REDACTED]" if "key" in k else v) for k, v in values.items()}

    with AuditTrail(trail_path, redact=redact, seal_seconds=0) as trail:
        entry = trail.record("a", "call_api", {"api_key": "sk-secret-123", "n": 1}, metadata={"key": "x"})
    assert entry.details == {"api_key": "[REDACTED]", "n": 1}
    with open(trail_path, "rb") as handle:
        assert b"sk-secret-123" not in handle.read()


def test_audit_records_are_written_when_the_sdk_is_disabled(
    trail_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert type(LoggerProvider().get_logger("x")).__name__ == "NoOpLogger"  # what the SDK would do
    with AuditTrail(trail_path, seal_seconds=0) as trail:
        trail.record("a", "tool_execute")
    assert len(records_in(trail_path)) == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_other_loggers_never_reach_the_audit_file(trail_path: str) -> None:
    exporter = InMemoryLogRecordExporter()
    global_provider = LoggerProvider()
    global_provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    _logs.set_logger_provider(global_provider)
    handler = LoggingHandler(logger_provider=global_provider)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with AuditTrail(trail_path, seal_seconds=0) as trail:
            assert trail.logger_provider is not _logs.get_logger_provider()
            logging.getLogger("app").warning("an application log line")
            _logs.get_logger("app").emit(body="an OTel log record")
            trail.record("a", "tool_execute")
    finally:
        root.removeHandler(handler)
    kinds = {line["kind"] for line in lines_of(trail_path)}
    assert kinds == {"genesis", "record", "seal"}
    assert len(exporter.get_finished_logs()) == 2  # the audit record did not go to the global provider


def test_no_attribute_limit_cuts_an_audit_record(trail: AuditTrail, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "8")
    monkeypatch.setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "4")
    details = {f"field_{i}": "v" * 1000 for i in range(300)}
    entry = trail.record("a", "bulk", details)
    assert records_in(trail.path)[0]["details"] == details
    assert entry.details == details


def test_a_record_the_exporter_cannot_represent_is_refused(trail: AuditTrail) -> None:
    with pytest.raises(AuditError, match="JSON"):
        trail.record("a", "x", {"ratio": float("nan")})
    assert records_in(trail.path) == []
    assert trail.record("a", "x", {"ok": True}).seq == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"agent_id": ""}, ValueError, "agent_id must be a non-empty string; got ''"),
        ({"action": None}, ValueError, "action must be a non-empty string; got None"),
        ({"result": "ok"}, ValueError, "result must be one of success, failure, denied; got 'ok'"),
        ({"details": ["x"]}, TypeError, "details must be a mapping or None; got list"),
        ({"user_id": 7}, TypeError, "user_id must be a string or None; got 7"),
    ],
)
def test_bad_arguments_are_named_in_the_error(
    trail: AuditTrail, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    call: dict[str, Any] = {"agent_id": "a", "action": "x", **kwargs}
    with pytest.raises(error) as raised:
        trail.record(**call)
    assert str(raised.value) == message


def test_close_seals_is_idempotent_and_refuses_later_records(trail_path: str) -> None:
    trail = AuditTrail(trail_path, key=KEY, seal_seconds=0)
    trail.record("a", "x")
    trail.close()
    trail.close()
    last = lines_of(trail_path)[-1]
    assert last["kind"] == "seal" and last["reason"] == "close" and last["count"] == last["seq"]
    with pytest.raises(AuditError, match="closed"):
        trail.record("a", "x")
    assert verify_trail(trail_path, KEY).ok


def test_the_time_seal_covers_records_within_its_interval(trail_path: str) -> None:
    import time

    with AuditTrail(trail_path, seal_seconds=0.05, seal_records=0) as trail:
        trail.record("a", "x")
        deadline = time.monotonic() + 5
        while lines_of(trail_path)[-1]["kind"] != "seal" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lines_of(trail_path)[-1]["reason"] == "periodic"


def test_a_seal_follows_every_n_unsealed_lines(trail_path: str) -> None:
    with AuditTrail(trail_path, seal_records=3, seal_seconds=0) as trail:
        for _ in range(7):
            trail.record("a", "x")
    kinds = "".join(str(line["kind"])[0] for line in lines_of(trail_path))
    assert kinds == "gsrrrsrrrsrs"  # the open seal follows genesis; the last seal is the close seal


def test_forwarded_records_are_log_events_named_kaizen_audit(trail_path: str) -> None:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    with AuditTrail(trail_path, forward_logger_provider=provider, seal_seconds=0) as trail:
        entry = trail.record("a", "tool_execute", {"n": 1}, result="denied")
    (forwarded,) = [f for f in exporter.get_finished_logs() if f.log_record.event_name == "kaizen.audit"]
    assert forwarded.log_record.timestamp == entry.timestamp_ns
    assert forwarded.log_record.body["hash"] == entry.hash  # type: ignore[index]
    assert forwarded.log_record.attributes["kaizen.audit.result"] == "denied"  # type: ignore[index]


def test_a_failing_forwarder_does_not_fail_the_record(trail_path: str) -> None:
    class Broken(LoggerProvider):
        def get_logger(self, *args: Any, **kwargs: Any) -> Any:
            class Logger:
                def emit(self, *a: Any, **k: Any) -> None:
                    raise RuntimeError("collector down")

            return Logger()

    with AuditTrail(trail_path, forward_logger_provider=Broken(), seal_seconds=0) as trail:
        assert trail.record("a", "x").seq == 2
    assert len(records_in(trail_path)) == 1


def test_metrics_count_records_latency_failures_and_verification(trail_path: str) -> None:
    reader = InMemoryMetricReader()
    with AuditTrail(
        trail_path, meter_provider=MeterProvider(metric_readers=[reader]), seal_seconds=0
    ) as trail:
        trail.record("a", "tool_execute")
        trail.record("a", "tool_execute", result="denied")
        with pytest.raises(AuditError):
            trail.record("a", "x", {"bad": float("inf")})
        assert trail.verify().ok
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points[metric.name] = list(metric.data.data_points)
    records = {
        (p.attributes["kaizen.audit.action"], p.attributes["kaizen.audit.result"]): p.value
        for p in points["kaizen.audit.records"]
    }
    assert records == {("tool_execute", "success"): 1, ("tool_execute", "denied"): 1}
    (latency,) = points["kaizen.audit.append.duration"]
    assert latency.count == 2 and latency.explicit_bounds[0] == 0.00005
    assert [p.attributes["error.type"] for p in points["kaizen.audit.append.failures"]] == ["invalid_record"]
    assert points["kaizen.audit.verify.last_success"][0].value > 1.7e9


def test_from_settings_expands_the_home_directory_and_reads_the_key_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(KEY + b"\n")
    settings = resolve(
        {"audit_path": "~/trail/audit.jsonl", "audit_key_file": str(key_file), "audit_seal_seconds": 0},
        environ={},
    ).settings
    trail = AuditTrail.from_settings(settings)
    trail.record("a", "x")
    trail.close()
    path = tmp_path / "trail" / "audit.jsonl"
    assert path.exists()
    assert verify_trail(str(path), KEY).ok
    assert not verify_trail(str(path), b"another key").ok


def test_key_and_key_file_together_is_a_config_error(trail_path: str, tmp_path: Any) -> None:
    key_file = tmp_path / "k"
    key_file.write_text("k")
    with pytest.raises(KaizenConfigError) as raised:
        AuditTrail(trail_path, key="k", key_file=str(key_file))
    assert str(raised.value) == (
        f"invalid value for audit_key_file (from argument): {str(key_file)!r}; "
        "expected unset when audit_key is set (give only one)"
    )


def test_a_negative_rotation_size_is_a_config_error(trail_path: str) -> None:
    with pytest.raises(KaizenConfigError, match=r"audit_rotate_bytes.*-1.*an integer >= 0"):
        AuditTrail(trail_path, rotate_bytes=-1)


def test_files_are_private_to_the_owner(trail: AuditTrail) -> None:
    trail.record("a", "x")
    directory = os.path.dirname(trail.path)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(trail.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(trail.path + ".lock").st_mode) == 0o600


def test_queries_of_the_source_documents_api(trail: AuditTrail) -> None:
    first = trail.record("agent-1", "tool_execute")
    trail.record("agent-2", "permission_grant")
    third = trail.record("agent-1", "permission_grant")
    assert [e.seq for e in trail.query_by_agent("agent-1")] == [first.seq, third.seq]
    assert [e.agent_id for e in trail.query_by_action("permission_grant")] == ["agent-2", "agent-1"]
    window = trail.query_by_time_range(first.timestamp_ns, third.timestamp_ns)
    assert [e.seq for e in window] == [first.seq, first.seq + 1]  # the end bound is exclusive


def test_a_record_emitted_through_the_trails_own_logger_provider_joins_the_same_chain(
    trail_path: str,
) -> None:
    """record() skips the OTel log path for speed; the trail's LoggerProvider still writes into the chain."""
    import time

    from opentelemetry._logs import SeverityNumber

    with AuditTrail(trail_path, seal_seconds=0) as trail:
        trail.record("a", "direct")
        trail.logger_provider.get_logger("app").emit(
            timestamp=time.time_ns(),
            severity_number=SeverityNumber.INFO,
            body={"agent_id": "b", "action": "through_otel", "result": "denied"},
        )
        trail.record("a", "direct again")
        with pytest.raises(AuditError, match="not an audit record"):
            trail.logger_provider.get_logger("app").emit(timestamp=time.time_ns(), body="free text")
    assert [(r["agent_id"], r["action"]) for r in records_in(trail_path)] == [
        ("a", "direct"),
        ("b", "through_otel"),
        ("a", "direct again"),
    ]
    assert verify_trail(trail_path).ok
