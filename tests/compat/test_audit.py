"""AuditTrailManager and FileAuditStorage: the documents' audit API on the one durable trail."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import kaizen_otel
from kaizen_otel import AuditEntry, AuditTrail, AuditTrailManager, FileAuditStorage
from kaizen_otel.compat.audit import AuditStorage


def _verify(path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kaizen_otel.cli", "audit", "verify", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_the_storage_writes_a_trail_that_kaizen_otel_audit_verify_accepts(tmp_path: Path) -> None:
    path = tmp_path / "trail.jsonl"
    audit = AuditTrailManager(FileAuditStorage(path))
    for step in range(3):
        asyncio.run(audit.record("qa-agent", "tool_execute", {"step": step}, "success"))
    asyncio.run(audit.record("qa-agent", "permission_request", {"resource": "db"}, "denied"))
    audit.close()

    result = _verify(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 records" in result.stdout
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["action"] for r in records if r["kind"] == "record"][-1] == "permission_request"


def test_entries_have_the_fields_the_documents_name(tmp_path: Path) -> None:
    audit = AuditTrailManager(FileAuditStorage(tmp_path / "trail.jsonl"))
    before = dt.datetime.now(dt.timezone.utc)
    asyncio.run(
        audit.record(
            agent_id="qa-agent",
            action="tool_execute",
            details={"tool_name": "bash", "command": "ls -la"},
            result="success",
            user_id="user@example.com",
            metadata={"session_id": "session-123"},
        )
    )
    (entry,) = asyncio.run(audit.query_by_agent("qa-agent"))
    assert before <= entry.timestamp <= dt.datetime.now(dt.timezone.utc)
    assert (entry.agent_id, entry.action, entry.result) == ("qa-agent", "tool_execute", "success")
    assert entry.user_id == "user@example.com"
    assert dict(entry.details) == {"tool_name": "bash", "command": "ls -la"}
    assert dict(entry.metadata) == {"session_id": "session-123"}
    assert json.dumps(dataclasses.asdict(entry))  # the documents archive entries this way
    audit.close()


def test_queries_by_agent_action_and_time_range(tmp_path: Path) -> None:
    audit = AuditTrailManager(FileAuditStorage(tmp_path / "trail.jsonl"))
    asyncio.run(audit.record("a", "read", {}, "success"))
    middle = dt.datetime.now(dt.timezone.utc)
    asyncio.run(audit.record("b", "read", {}, "failure"))
    asyncio.run(audit.record("b", "write", {}, "success"))
    end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)

    assert [e.action for e in asyncio.run(audit.query_by_agent("b"))] == ["read", "write"]
    assert [e.agent_id for e in asyncio.run(audit.query_by_action("read"))] == ["a", "b"]
    recent = asyncio.run(audit.query_by_time_range(middle, end))
    assert [(e.agent_id, e.action) for e in recent] == [("b", "read"), ("b", "write")]
    naive = middle.astimezone(dt.timezone.utc).replace(tzinfo=None)  # utcnow()-style
    assert len(asyncio.run(audit.query_by_time_range(naive, end))) == 2
    audit.close()


def test_the_default_storage_is_the_audit_path_setting_and_shares_the_process_trail(audit_path: Path) -> None:
    handle = kaizen_otel.configure(enable_audit=True, enable_tracing=False)
    storage = FileAuditStorage()
    assert storage.file_path == str(audit_path)
    assert storage.trail is handle.audit
    audit = AuditTrailManager()
    asyncio.run(audit.record("agent", "via-manager", {}, "success"))
    assert handle.audit is not None
    handle.audit.record("agent", "via-trail")
    assert [e.action for e in handle.audit.query(agent_id="agent")] == ["via-manager", "via-trail"]
    audit.close()  # the process's trail is not this manager's to close
    assert not handle.audit.closed


def test_a_storage_at_another_path_opens_its_own_trail_and_closes_it(tmp_path: Path) -> None:
    handle = kaizen_otel.configure(enable_audit=True, enable_tracing=False)
    storage = FileAuditStorage(tmp_path / "daily.jsonl")
    assert isinstance(storage.trail, AuditTrail) and storage.trail is not handle.audit
    storage.close()
    assert storage.trail.closed


def test_secrets_in_details_are_redacted_before_the_line_is_written(tmp_path: Path) -> None:
    path = tmp_path / "trail.jsonl"
    audit = AuditTrailManager(FileAuditStorage(path))
    asyncio.run(audit.record("a", "login", {"api_key": "sk-proj-abcdefghijklmnopqrstuvwx"}, "success"))
    audit.close()
    assert "sk-proj-abcdefghijklmnopqrstuvwx" not in path.read_text()


def test_a_bad_result_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "trail.jsonl"
    audit = AuditTrailManager(FileAuditStorage(path))
    with pytest.raises(ValueError, match="result must be one of success, failure, denied; got 'ok'"):
        asyncio.run(audit.record("a", "x", {}, "ok"))
    assert asyncio.run(audit.query_by_agent("a")) == []
    audit.close()


class _ListStorage:
    """A storage of the documents' protocol that keeps entries in memory."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def append(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    async def query(
        self, agent_id: Any = None, start_time: Any = None, end_time: Any = None, action: Any = None
    ) -> list[AuditEntry]:
        return [
            e
            for e in self.entries
            if (agent_id is None or e.agent_id == agent_id) and (action is None or e.action == action)
        ]


def test_any_storage_of_the_documents_protocol_can_be_plugged_in() -> None:
    storage: AuditStorage = _ListStorage()
    audit = AuditTrailManager(storage)
    asyncio.run(audit.record("a", "x", {"k": 1}, "failure", user_id="u"))
    synced = audit.record_sync("a", "y")  # no running loop: run to completion
    assert synced is not None and synced.action == "y"
    assert [(e.action, e.result) for e in asyncio.run(audit.query_by_agent("a"))] == [
        ("x", "failure"),
        ("y", "success"),
    ]


def test_the_storage_can_be_replaced_on_a_running_manager(tmp_path: Path) -> None:
    obs = kaizen_otel.ObservabilityManager(service_name="agent", enable_tracing=False)
    assert obs.audit is not None
    obs.audit.storage = FileAuditStorage(tmp_path / "audit_20250101.jsonl")
    asyncio.run(obs.record_audit("agent", "rotated", {}, "success"))
    assert [e.action for e in asyncio.run(obs.query_audit_by_action("rotated"))] == ["rotated"]
    obs.shutdown()
    assert _verify(tmp_path / "audit_20250101.jsonl").returncode == 0
